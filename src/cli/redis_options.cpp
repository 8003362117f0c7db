#include "cli/redis_options.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace onsen::cli {

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

std::string random_process_id() {
  std::array<unsigned char, 8> bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("cannot draw a random replica id");
  }
  std::string hex;
  for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

}  // namespace onsen::cli
