// The value of an `Authorization: Basic <base64(user:password)>` header (RFC 7617), parsed
// strictly enough that garbage can never reach bcrypt and nothing a client sends can crash it.
//
// Thread-safety: free function, no shared state.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace onsen::auth {

// Longest Authorization header value considered; longer ones are refused before any work.
inline constexpr std::size_t kMaxAuthorizationHeader = 4096;

// Overwrites all of `s` (its whole capacity, so bytes left behind by shorter contents go too) and
// empties it. Best effort against secrets lingering in freed memory.
void secure_wipe(std::string& s);

// Decoded credentials. The destructor wipes both strings (best effort: copies made by the
// transport are out of our hands). Move-only, so the password is not copied by accident; a move
// wipes the source.
struct BasicCredentials {
  std::string user;
  std::string password;

  BasicCredentials() = default;
  BasicCredentials(BasicCredentials&& other);
  BasicCredentials& operator=(BasicCredentials&& other);
  BasicCredentials(const BasicCredentials&) = delete;
  BasicCredentials& operator=(const BasicCredentials&) = delete;
  ~BasicCredentials();
};

// Parses an Authorization header value: the scheme "Basic" in any case, one or more spaces or
// tabs, then standard base64 (RFC 4648 alphabet, with or without '=' padding, no whitespace
// inside); the decoded text is split at its FIRST ':' (so passwords may contain ':').
// Returns nullopt for: an empty or oversized (> 4 KiB) value, another scheme, bad base64, no ':',
// an empty user name, or a NUL byte in the user name or password (crypt(3) would silently cut the
// password at it).
std::optional<BasicCredentials> parse_basic_authorization(std::string_view header);

}  // namespace onsen::auth
