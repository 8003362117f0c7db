// What the Redis users of the server (listing changes, the collector lock) share: the connection
// options from the `redis:` section, and a random name for this process among the replicas.
#pragma once

#include "config/config.h"
#include "redis/connection.h"

#include <string>

namespace onsen::cli {

redis::Options redis_options(const config::RedisConfig& config);
// 16 hex digits from the system's random source; throws std::runtime_error when it fails.
std::string random_process_id();

}  // namespace onsen::cli
