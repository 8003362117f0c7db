#include "cli/redis_collector_lock.h"

#include "cli/redis_options.h"

namespace onsen::cli {

namespace {

// KEYS[1] the lock, ARGV[1] the owner, ARGV[2] the new ttl in ms.
constexpr const char* kRenew =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
constexpr const char* kRelease =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end";

}  // namespace

RedisCollectorLock::RedisCollectorLock(const config::RedisConfig& config,
                                       const std::string& storage_location, std::string owner)
    : options_(redis_options(config)),
      key_("onsen:gc-lock:" + storage_location),
      owner_(std::move(owner)) {}

std::string RedisCollectorLock::command(const std::vector<std::string>& args) {
  std::lock_guard guard(mutex_);
  try {
    if (!connection_) connection_ = std::make_unique<redis::Connection>(options_);
    return connection_->command(args);
  } catch (...) {
    connection_.reset();  // of no more use; the next call connects again
    throw;
  }
}

bool RedisCollectorLock::acquire(std::chrono::milliseconds ttl) {
  // "OK", or nil (empty) when the key exists.
  return command({"SET", key_, owner_, "NX", "PX", std::to_string(ttl.count())}) == "OK";
}

bool RedisCollectorLock::renew(std::chrono::milliseconds ttl) {
  return command({"EVAL", kRenew, "1", key_, owner_, std::to_string(ttl.count())}) == "1";
}

void RedisCollectorLock::release() {
  command({"EVAL", kRelease, "1", key_, owner_});
}

std::string RedisCollectorLock::holder() {
  return command({"GET", key_});
}

}  // namespace onsen::cli
