// Go's %q for the text of a challenge parameter (realm, service, scope): '"' and '\' escaped,
// control characters as \n, \t, ... or \xNN, bytes >= 0x80 passed through (HTTP allows them in
// header values as obs-text). Distribution writes its Bearer challenge with %q, so Onsen's bytes
// match registry:2's, and a Host header or a repository name cannot break out of the quotes.
#pragma once

#include <string>
#include <string_view>

namespace onsen::auth {

inline std::string go_quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace onsen::auth
