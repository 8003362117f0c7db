#include "auth/token_verifier.h"

#include <algorithm>

#include "auth/jwt.h"
#include "auth/log_text.h"

namespace onsen::auth {

bool VerifiedToken::grants(const std::vector<Access>& needed) const {
  for (const auto& record : needed) {
    auto it = access.find({record.type, record.name});
    if (it == access.end()) return false;
    if (it->second.contains("*")) continue;
    for (const auto& action : record.actions) {
      if (!it->second.contains(action)) return false;
    }
  }
  return true;
}

TokenVerifier::TokenVerifier(std::shared_ptr<const TokenKeys> keys, TokenVerifierOptions options)
    : keys_(std::move(keys)), options_(std::move(options)) {}

bool TokenVerifier::in_window(const VerifiedToken& token, int64_t now, std::string* why) const {
  const int64_t leeway = options_.leeway.count();
  // Saturating: a far-future exp plus the leeway must not wrap around into the past.
  int64_t latest = token.expiration > INT64_MAX - leeway ? INT64_MAX : token.expiration + leeway;
  int64_t earliest = token.not_before < INT64_MIN + leeway ? INT64_MIN : token.not_before - leeway;
  if (now > latest) {
    if (why) *why = "token expired at " + std::to_string(token.expiration);
    return false;
  }
  if (now < earliest) {
    if (why) *why = "token not valid before " + std::to_string(token.not_before);
    return false;
  }
  return true;
}

std::optional<VerifiedToken> TokenVerifier::verify(std::string_view compact, int64_t now,
                                                   std::string* why) const {
  auto fail = [why](std::string reason) -> std::optional<VerifiedToken> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  std::string reason;
  auto jwt = parse_jwt(compact, &reason);
  if (!jwt) return fail("malformed token: " + reason);

  // The algorithm first: "none" and HS* are no algorithms of jws_signature.h, so a token that
  // names one ends here whatever its key.
  auto alg = jws_algorithm(jwt->header.alg);
  if (!alg) return fail("signing algorithm \"" + loggable(jwt->header.alg, 16) + "\" not accepted");
  if (!options_.algorithms.empty() &&
      std::find(options_.algorithms.begin(), options_.algorithms.end(), *alg) ==
          options_.algorithms.end()) {
    return fail("signing algorithm " + std::string(jws_algorithm_name(*alg)) +
                " not in signingalgorithms");
  }

  // The key: an x5c chain to the bundle, else a trusted kid (Distribution's order).
  PublicKey key;
  if (!jwt->header.x5c.empty()) {
    key = keys_->by_chain(jwt->header.x5c, &reason);
    if (!key) return fail(reason);
  } else if (!jwt->header.kid.empty()) {
    key = keys_->by_kid(jwt->header.kid);
    if (!key)
      return fail("token signed by untrusted key with ID \"" + loggable(jwt->header.kid) + "\"");
  } else {
    return fail(jwt->header.has_jwk ? "untrusted JWK with no certificate chain"
                                    : "unable to get token signing key");
  }
  if (!verify_jws_signature(*alg, key.get(), jwt->signing_input, jwt->signature)) {
    return fail("unable to verify token signature");
  }

  const JwtClaims& claims = jwt->claims;
  if (claims.issuer != options_.issuer) {
    return fail("token from untrusted issuer \"" + loggable(claims.issuer) + "\"");
  }
  if (std::find(claims.audience.begin(), claims.audience.end(), options_.service) ==
      claims.audience.end()) {
    return fail("token intended for another audience");
  }
  VerifiedToken token;
  token.subject = claims.subject;
  token.expiration = claims.expiration;
  token.not_before = claims.not_before;
  if (!in_window(token, now, why)) return std::nullopt;
  for (const auto& entry : claims.access) {
    auto& actions = token.access[{entry.type, entry.name}];
    actions.insert(entry.actions.begin(), entry.actions.end());
  }
  return token;
}

}  // namespace onsen::auth
