// Makes untrusted text (user names from Authorization headers, client keys) safe to put in a log
// line: control characters, quotes, backslashes and non-ASCII bytes become \xNN escapes and the
// result is capped, so a crafted user name can neither forge log lines nor flood the log.
// Never pass a password or a password hash here: they must not be logged at all.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace onsen::auth {

inline std::string loggable(std::string_view text, std::size_t max_chars = 128) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() < max_chars ? text.size() : max_chars);
  for (unsigned char c : text) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'' && c != '"') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

}  // namespace onsen::auth
