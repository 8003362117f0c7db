#include "cli/listing_changes.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <array>
#include <stdexcept>

namespace onsen::cli {

namespace {

redis::Options redis_options(const config::RedisConfig& config) {
  redis::Options options;
  options.addr = config.addr;
  options.password = config.password;
  options.db = static_cast<int64_t>(config.db);
  options.dial_timeout = config.dial_timeout;
  options.read_timeout = config.read_timeout;
  options.write_timeout = config.write_timeout;
  return options;
}

std::string random_origin() {
  std::array<unsigned char, 8> bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("cannot draw a random replica id");
  }
  std::string hex;
  for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

}  // namespace

RedisListingChanges::RedisListingChanges(const config::RedisConfig& config,
                                         const std::string& storage_location)
    : options_(redis_options(config)),
      channel_("onsen:listing:" + storage_location),
      origin_(random_origin()),
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
