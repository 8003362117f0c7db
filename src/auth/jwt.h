// A JSON Web Token in JWS compact serialization (header.claims.signature), parsed but not yet
// trusted: the fields Distribution's token auth reads (registry/auth/token/token.go). Parsing
// refuses what Go's json.Unmarshal into Distribution's structs refuses (a claim of the wrong
// type), so a token Onsen reads as malformed is one registry:2 reads as malformed too.
// Verification (signature, issuer, audience, times, access) is token_verifier.h's job.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onsen::auth {

// One entry of the token's "access" claim: what it grants on one resource.
struct ResourceActions {
  std::string type;  // "repository", "registry"
  std::string name;  // the repository's name, or "catalog"
  std::vector<std::string> actions;
};

struct JwtHeader {
  std::string alg;
  std::string kid;
  std::vector<std::string> x5c;  // base64 (standard) DER certificates, leaf first
  bool has_jwk = false;          // an embedded "jwk": not trusted by Onsen (see token_keys.h)
};

struct JwtClaims {
  std::string issuer;                 // iss
  std::string subject;                // sub: the user, for logs and events
  std::vector<std::string> audience;  // aud: one string or a list (RFC 7519 §4.1.3)
  int64_t expiration = 0;             // exp; absent reads as 0, i.e. long expired (as Go)
  int64_t not_before = 0;             // nbf; absent reads as 0, i.e. valid from the start
  std::vector<ResourceActions> access;
};

struct Jwt {
  JwtHeader header;
  JwtClaims claims;
  std::string signing_input;  // "header.claims" as received: what the signature covers
  std::string signature;      // decoded bytes
};

// Parses `compact`; nullopt and a reason in `why` if it is not a well-formed JWS with JSON header
// and claims. Bounded: tokens above 64 KiB are refused unread.
std::optional<Jwt> parse_jwt(std::string_view compact, std::string* why);

}  // namespace onsen::auth
