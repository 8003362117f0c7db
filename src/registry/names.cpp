// Hand-written matchers: std::regex is slow and recurses per character (stack overflow on long
// input), and these grammars are simple enough to scan in one pass.
#include "registry/names.h"

#include <cstddef>

namespace onsen::registry {

namespace {

constexpr size_t kMaxRepositoryName = 255;
constexpr size_t kMaxTag = 128;

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool valid_path_component(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  for (;;) {
    // One run of [a-z0-9]+.
    size_t start = i;
    while (i < n && is_lower_alnum(s[i])) ++i;
    if (i == start) return false;
    if (i == n) return true;
    // A separator: ".", "_", "__" or "-+".
    char c = s[i];
    if (c == '.') {
      ++i;
    } else if (c == '_') {
      ++i;
      if (i < n && s[i] == '_') ++i;
    } else if (c == '-') {
      while (i < n && s[i] == '-') ++i;
    } else {
      return false;
    }
  }
}

}  // namespace

bool valid_repository_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxRepositoryName) return false;
  size_t start = 0;
  for (;;) {
    size_t slash = name.find('/', start);
    std::string_view component = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!valid_path_component(component)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTag) return false;
  if (!(is_alnum(tag[0]) || tag[0] == '_')) return false;
  for (char c : tag.substr(1)) {
    if (!(is_alnum(c) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

bool valid_upload_id(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (id[i] != '-') return false;
    } else if (!is_lower_hex(id[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace onsen::registry
