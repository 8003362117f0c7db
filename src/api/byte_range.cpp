#include "api/byte_range.h"

#include <charconv>

namespace onsen::api {

namespace {

std::optional<uint64_t> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

RangeResult parse_range(std::string_view header, uint64_t size, ByteRange* out) {
  header = trim(header);
  if (header.substr(0, 6) != "bytes=") return RangeResult::kWhole;
  std::string_view spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return RangeResult::kWhole;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeResult::kWhole;
  std::string_view a = trim(spec.substr(0, dash));
  std::string_view b = trim(spec.substr(dash + 1));
  if (a.empty()) {  // suffix range: the last n bytes
    auto n = parse_number(b);
    if (!n) return RangeResult::kWhole;
    if (*n == 0 || size == 0) return RangeResult::kUnsatisfiable;
    out->first = *n >= size ? 0 : size - *n;
    out->last = size - 1;
    return RangeResult::kPartial;
  }
  auto first = parse_number(a);
  if (!first) return RangeResult::kWhole;
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto parsed = parse_number(b);
    if (!parsed || *parsed < *first) return RangeResult::kWhole;
    last = std::min(*parsed, last);
  }
  if (*first >= size) return RangeResult::kUnsatisfiable;
  out->first = *first;
  out->last = last;
  return RangeResult::kPartial;
}

std::optional<ByteRange> parse_content_range(std::string_view header) {
  header = trim(header);
  if (header.substr(0, 6) == "bytes " || header.substr(0, 6) == "bytes=")
    header = trim(header.substr(6));
  if (size_t slash = header.find('/'); slash != std::string_view::npos)
    header = header.substr(0, slash);
  size_t dash = header.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = parse_number(header.substr(0, dash));
  auto last = parse_number(header.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return ByteRange{*first, *last};
}

}  // namespace onsen::api
