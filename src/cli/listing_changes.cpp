#include "cli/listing_changes.h"

#include "cli/redis_options.h"

#include <spdlog/spdlog.h>

namespace onsen::cli {

RedisListingChanges::RedisListingChanges(const config::RedisConfig& config,
                                         const std::string& storage_location)
    : options_(redis_options(config)),
      channel_("onsen:listing:" + storage_location),
      origin_(random_process_id()),
      publisher_(options_, channel_) {}

void RedisListingChanges::flush() {
  // A PUBLISH on loopback or a LAN answers in well under a millisecond; the bound only keeps a
  // slow Redis from holding writes up.
  publisher_.flush(std::chrono::milliseconds(100));
}

void RedisListingChanges::publish(const registry::ListingChange& change) {
  publisher_.publish(registry::encode(change, origin_));
}

std::unique_ptr<redis::Subscriber> RedisListingChanges::subscribe(registry::Registry& registry) {
  return std::make_unique<redis::Subscriber>(
      options_, channel_,
      [this, &registry](const std::string& message) {
        auto received = registry::decode(message);
        if (!received) {
          spdlog::warn("redis: ignoring a malformed listing change on {}", channel_);
        } else if (received->origin != origin_) {
          registry.apply(received->change);
        }
      },
      [&registry](bool live) { registry.set_listing_changes_live(live); });
}

}  // namespace onsen::cli
