// Decides whether a bearer token is one Distribution's token auth would accept
// (registry/auth/token/token.go): a JWS signed with an allowed asymmetric algorithm by a trusted
// key (token_keys.h: the x5c chain, else the kid), whose "iss" is the configured issuer, whose
// "aud" names the configured service, and which is within its exp/nbf window give or take the
// leeway (Distribution's: 60 s). What it grants ("access") is kept for per-request checks.
// Immutable after construction: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/access.h"
#include "auth/jws_signature.h"
#include "auth/token_keys.h"

namespace onsen::auth {

// A token whose signature, issuer and audience were verified; its time window is checked on
// every use (verified() below), since a cached token ages.
struct VerifiedToken {
  std::string subject;
  int64_t expiration = 0;
  int64_t not_before = 0;
  // (type, name) -> actions, merged over the claim's entries; "*" grants every action.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> access;

  // Whether the token grants every action of every record (Distribution's accessSet.contains).
  bool grants(const std::vector<Access>& needed) const;
};

struct TokenVerifierOptions {
  std::string issuer;
  std::string service;                   // the audience a token must name
  std::vector<JwsAlgorithm> algorithms;  // allowed; empty: all of jws_signature.h's
  std::chrono::seconds leeway{60};       // clock skew allowed on exp and nbf
};

class TokenVerifier {
 public:
  TokenVerifier(std::shared_ptr<const TokenKeys> keys, TokenVerifierOptions options);

  // Parses and verifies `compact` at `now` (Unix seconds). nullopt and the reason in `why`
  // (for the log: it never contains the token) when it is not acceptable.
  std::optional<VerifiedToken> verify(std::string_view compact, int64_t now,
                                      std::string* why) const;
  // Whether an already verified token is still within its window at `now`.
  bool in_window(const VerifiedToken& token, int64_t now, std::string* why) const;

 private:
  std::shared_ptr<const TokenKeys> keys_;
  TokenVerifierOptions options_;
};

}  // namespace onsen::auth
