#include "http/request_id.h"

#include <cstdint>
#include <random>

namespace onsen::http {

namespace {

// xoshiro256** per thread, seeded once from the system's random source: ids must be unique, not
// secret, and drawing them must cost next to nothing on the hot path.
class IdSource {
 public:
  IdSource() {
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

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

void assign_request_id(std::string& id, std::optional<std::string_view> incoming) {
  if (incoming && acceptable_request_id(*incoming)) {
    id.assign(*incoming);
    return;
  }
  thread_local IdSource source;
  uint64_t hi = source.next();
  uint64_t lo = source.next();
  hi = (hi & ~uint64_t{0xF000}) | 0x4000;                      // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // variant 10xx
  static constexpr char kHex[] = "0123456789abcdef";
  id.resize(36);
  size_t at = 0;
  auto put = [&](uint64_t word, int from_nibble, int count) {
    for (int i = from_nibble; i > from_nibble - count; --i)
      id[at++] = kHex[(word >> (4 * i)) & 0xF];
  };
  put(hi, 15, 8);
  id[at++] = '-';
  put(hi, 7, 4);
  id[at++] = '-';
  put(hi, 3, 4);
  id[at++] = '-';
  put(lo, 15, 4);
  id[at++] = '-';
  put(lo, 11, 12);
}

}  // namespace onsen::http
