// Parsers for the two range headers of the protocol: a blob GET's `Range: bytes=...` and an
// upload chunk's `Content-Range: <start>-<end>`. Pure functions over untrusted text.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace onsen::api {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
};

enum class RangeResult { kWhole, kPartial, kUnsatisfiable };

// Interprets `Range` against an object of `size` bytes. A single "bytes=a-b", "bytes=a-" or
// "bytes=-n" gives kPartial (end clamped to the object); a syntactically invalid or multi-range
// header is ignored (kWhole), as RFC 9110 allows; a start at or past the end is kUnsatisfiable.
RangeResult parse_range(std::string_view header, uint64_t size, ByteRange* out);

// Parses an upload chunk's Content-Range "a-b" (a "bytes " or "bytes=" prefix and a "/total"
// suffix are tolerated). nullopt when malformed or b < a.
std::optional<ByteRange> parse_content_range(std::string_view header);

}  // namespace onsen::api
