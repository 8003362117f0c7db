// The collector lock in Redis (registry/collector_lock.h), for replicas with `redis:`: one key per
// storage, `SET key owner NX PX ttl` to take it; renewal and release compare the owner first, in
// one Lua script each, so that a replica whose lease expired never extends or deletes the next
// holder's. Its own connection, opened when first needed and again after a failure.
#pragma once

#include "config/config.h"
#include "redis/connection.h"
#include "registry/collector_lock.h"

#include <memory>
#include <mutex>
#include <string>

namespace onsen::cli {

class RedisCollectorLock final : public registry::CollectorLock {
 public:
  // `storage_location` as RedisListingChanges': replicas of one storage share the key.
  RedisCollectorLock(const config::RedisConfig& config, const std::string& storage_location,
                     std::string owner);

  bool acquire(std::chrono::milliseconds ttl) override;
  bool renew(std::chrono::milliseconds ttl) override;
  void release() override;
  std::string holder() override;

 private:
  std::string command(const std::vector<std::string>& args);

  redis::Options options_;
  std::string key_;
  std::string owner_;
  std::mutex mutex_;
  std::unique_ptr<redis::Connection> connection_;
};

}  // namespace onsen::cli
