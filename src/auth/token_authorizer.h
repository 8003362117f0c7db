// Distribution's token authentication (`auth: token`; REGISTRY_AUTH=token, REGISTRY_AUTH_TOKEN_*):
// clients present `Authorization: Bearer <JWT>` obtained from the token server at `realm`; the
// token is verified by token_verifier.h and must grant every access record the route needs
// (`registry:catalog:*` for the catalog). Answers as registry:2 does
// (registry/auth/token/accesscontroller.go): 401 with
//   WWW-Authenticate: Bearer realm="<realm>",service="<service>"[,scope="<scopes>"][,error="..."]
// where error is absent without a bearer token, "invalid_token" for a token that does not verify,
// and "insufficient_scope" for a valid token that lacks an action. Never kDenied: the client is to
// fetch a token with the scope named (registry:2's behaviour; the Docker client does so).
//
// A verified token is cached (by its SHA-256, up to cache_capacity) with its claims, so the many
// requests of one push cost one signature check: decide_without_blocking() answers from the
// cache on the I/O thread, and only a token not seen yet goes to the blocking pool (an RSA or
// chain verification takes tens to hundreds of microseconds). The time window is checked on
// every request. Logs say why a token was refused, never the token.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/authorizer.h"
#include "auth/token_verifier.h"

namespace onsen::auth {

struct TokenAuthorizerOptions {
  std::string realm;
  std::string service;
  std::string issuer;
  std::string rootcertbundle;                   // PEM file; "" if jwks is given
  std::string jwks;                             // JWKS file; "" if rootcertbundle is given
  std::vector<std::string> signing_algorithms;  // names; empty: every asymmetric one
  bool autoredirect = false;                    // realm = <scheme>://<Host><autoredirect_path>
  std::string autoredirect_path = "/auth/token";
  std::chrono::seconds leeway{60};
  std::size_t cache_capacity = 10000;
  std::function<int64_t()> now;  // Unix seconds; empty: the system clock. Tests inject one.
};

class TokenAuthorizer final : public Authorizer {
 public:
  // Loads the keys. Throws std::runtime_error naming the problem: an unreadable or empty bundle
  // or JWKS, an unknown signing algorithm. HMAC algorithms in signing_algorithms are dropped
  // with a warning (registry:3 accepts the names, but no public key verifies them).
  explicit TokenAuthorizer(TokenAuthorizerOptions options);

  Decision authorize(const Credentials& credentials, const std::vector<Access>& access) override;
  std::optional<Decision> decide_without_blocking(const Credentials& credentials,
                                                  const std::vector<Access>& access) override;
  // The challenge without a request: the configured realm, the scope, no error.
  std::string challenge(const std::vector<Access>& access) const override;

  std::size_t cached_tokens() const;

 private:
  enum class Problem { kNone, kInvalid, kInsufficientScope };
  Decision decide(const Credentials& credentials, const std::vector<Access>& access,
                  const std::shared_ptr<const VerifiedToken>& token);
  Decision unauthorized(const Credentials& credentials, const std::vector<Access>& access,
                        Problem problem) const;
  std::string challenge_for(const Credentials& credentials, const std::vector<Access>& access,
                            Problem problem) const;
  int64_t now() const;
  std::shared_ptr<const VerifiedToken> cached(const std::string& key) const;
  void remember(const std::string& key, std::shared_ptr<const VerifiedToken> token);
  void forget(const std::string& key);

  TokenAuthorizerOptions options_;
  std::unique_ptr<TokenVerifier> verifier_;

  mutable std::mutex cache_mu_;
  std::unordered_map<std::string, std::shared_ptr<const VerifiedToken>> cache_;  // by SHA-256
};

}  // namespace onsen::auth
