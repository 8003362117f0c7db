// An immutable, sorted list of names (tags or repositories) as the listing caches hold it, with
// its JSON serialization computed once: any page — a contiguous range found with one binary
// search — is then served with one copy, no per-request sorting, escaping or JSON building.
//
// Thread-safe: immutable after construction; shared between requests as shared_ptr<const>.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace onsen::registry {

class NameListing {
 public:
  // Sorts and deduplicates `names`.
  explicit NameListing(std::vector<std::string> names);

  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }
  bool contains(std::string_view name) const;
  // Index of the first name greater than `last` (size() when none).
  size_t after(std::string_view last) const;
  // Appends the JSON array of names [begin, end), e.g. ["a","b"]. Bytes that are not UTF-8 are
  // replaced with U+FFFD (names come from directory entries another process may have made).
  void append_json(std::string& out, size_t begin, size_t end) const;

 private:
  std::vector<std::string> names_;
  std::string json_;             // every name as a JSON string followed by ','
  std::vector<size_t> offsets_;  // offsets_[i]: where name i starts in json_; back() = size
};

}  // namespace onsen::registry
