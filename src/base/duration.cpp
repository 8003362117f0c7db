#include "base/duration.h"

#include <cstdint>
#include <limits>
#include <utility>

namespace onsen::base {

namespace {

constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
    {"ns", 1ULL},
    {"us", 1'000ULL},
    {"\xC2\xB5s", 1'000ULL},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000ULL},  // U+03BC Greek small letter mu
    {"ms", 1'000'000ULL},
    {"s", 1'000'000'000ULL},
    {"m", 60'000'000'000ULL},
    {"h", 3'600'000'000'000ULL},
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds{0};
  if (s.empty()) return std::nullopt;

  constexpr uint64_t kLimit = uint64_t{1} << 63;  // |int64 min|
  uint64_t total = 0;
  while (!s.empty()) {
    // [0-9]*(\.[0-9]*)?
    if (!is_digit(s.front()) && s.front() != '.') return std::nullopt;
    uint64_t whole = 0;
    bool whole_overflow = false;
    size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (whole > (kLimit - (s[i] - '0')) / 10) whole_overflow = true;
      whole = whole * 10 + (s[i] - '0');
    }
    bool any_digits = i > 0;
    uint64_t frac = 0;
    double scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      size_t start = i;
      for (; i < s.size() && is_digit(s[i]); ++i) {
        if (frac <= (std::numeric_limits<uint64_t>::max() - 9) / 10) {  // drop excess precision
          frac = frac * 10 + (s[i] - '0');
          scale *= 10;
        }
      }
      any_digits = any_digits || i > start;
    }
    if (!any_digits || whole_overflow) return std::nullopt;
    s.remove_prefix(i);

    // The unit: everything up to the next digit or '.'.
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !is_digit(s[u])) ++u;
    if (u == 0) return std::nullopt;  // missing unit
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit = 0;
    for (const auto& [name, ns] : kUnits) {
      if (name == unit_name) unit = ns;
    }
    if (unit == 0) return std::nullopt;

    if (whole > kLimit / unit) return std::nullopt;
    uint64_t v = whole * unit;
    if (frac > 0) {
      v += static_cast<uint64_t>(static_cast<double>(frac) * (static_cast<double>(unit) / scale));
      if (v > kLimit) return std::nullopt;
    }
    if (total + v < total || total + v > kLimit) return std::nullopt;
    total += v;
  }
  if (!negative && total > kLimit - 1) return std::nullopt;
  int64_t signed_total = negative ? static_cast<int64_t>(0 - total) : static_cast<int64_t>(total);
  return std::chrono::nanoseconds{signed_total};
}

}  // namespace onsen::base
