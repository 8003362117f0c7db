#include "base/uuid.h"

#include <random>

namespace onsen::base {

namespace {

class Xoshiro256 {
 public:
  Xoshiro256() {
    std::random_device seed;
    for (auto& word : s_) word = (uint64_t{seed()} << 32) | seed();
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace

void format_uuid_v4(const std::array<uint8_t, 16>& random, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.resize(36);
  size_t at = 0;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[at++] = '-';
    uint8_t b = random[i];
    if (i == 6) b = (b & 0x0f) | 0x40;  // version 4
    if (i == 8) b = (b & 0x3f) | 0x80;  // RFC 4122 variant
    out[at++] = kHex[b >> 4];
    out[at++] = kHex[b & 0x0f];
  }
}

void fast_random_uuid(std::string& out) {
  thread_local Xoshiro256 source;
  std::array<uint8_t, 16> bytes;
  const uint64_t words[2] = {source.next(), source.next()};
  for (size_t i = 0; i < 16; ++i) bytes[i] = static_cast<uint8_t>(words[i / 8] >> (8 * (i % 8)));
  format_uuid_v4(bytes, out);
}

std::string fast_random_uuid() {
  std::string out;
  fast_random_uuid(out);
  return out;
}

}  // namespace onsen::base
