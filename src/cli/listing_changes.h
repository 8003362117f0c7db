// The Redis transport of listing changes between replicas (registry/cache_events.h): publishes
// this registry's changes on a channel named after the storage, and applies those of the other
// replicas, which subscribe to the same channel. Built only when `redis.addr` is configured.
#pragma once

#include "config/config.h"
#include "redis/publisher.h"
#include "redis/subscriber.h"
#include "registry/cache_events.h"
#include "registry/registry.h"

#include <memory>
#include <string>

namespace onsen::cli {

class RedisListingChanges final : public registry::ListingChangePublisher {
 public:
  // `storage_location`: the driver and its location; replicas of one registry name the same,
  // and registries on other storage sharing the Redis server do not hear each other.
  RedisListingChanges(const config::RedisConfig& config, const std::string& storage_location);

  void publish(const registry::ListingChange& change) override;
  void flush() override;
  // Starts applying the other replicas' changes to `registry` until the subscriber returned is
  // destroyed (before the registry).
  std::unique_ptr<redis::Subscriber> subscribe(registry::Registry& registry);

 private:
  redis::Options options_;
  std::string channel_;
  std::string origin_;  // this process, random: its own messages come back and are skipped
  redis::Publisher publisher_;
};

}  // namespace onsen::cli
