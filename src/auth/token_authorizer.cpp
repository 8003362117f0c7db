#include "auth/token_authorizer.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "auth/go_quote.h"
#include "auth/log_text.h"
#include "auth/sha256.h"

namespace onsen::auth {

namespace {

// The token of an `Authorization: Bearer <token>` header; empty for anything else (no header,
// Basic credentials, a bearer without a token). The scheme is case-insensitive, as in registry:2.
std::string_view bearer_token(std::string_view header) {
  std::size_t space = header.find(' ');
  if (space != 6) return {};
  static constexpr std::string_view kBearer = "bearer";
  for (std::size_t i = 0; i < 6; ++i) {
    char c = header[i] >= 'A' && header[i] <= 'Z' ? static_cast<char>(header[i] + 32) : header[i];
    if (c != kBearer[i]) return {};
  }
  std::string_view token = header.substr(space + 1);
  if (token.find(' ') != std::string_view::npos) return {};  // registry:2.8: exactly two parts
  return token;
}

std::string cache_key(std::string_view token) {
  try {
    return sha256_bytes(token);
  } catch (const std::exception&) {
    return {};  // no cache key: the token is verified every time
  }
}

std::vector<JwsAlgorithm> allowed_algorithms(const std::vector<std::string>& names) {
  std::vector<JwsAlgorithm> out;
  bool dropped = false;
  for (const auto& name : names) {
    if (is_hmac_algorithm(name)) {
      spdlog::warn(
          "auth.token.signingalgorithms: {} ignored: Onsen never accepts HMAC-signed "
          "tokens (the verification keys are public)",
          name);
      dropped = true;
      continue;
    }
    auto alg = jws_algorithm(name);
    if (!alg) throw std::runtime_error("unsupported signing algorithm: " + name);
    out.push_back(*alg);
  }
  if (out.empty() && dropped) {
    throw std::runtime_error(
        "auth.token.signingalgorithms lists only HMAC algorithms, which Onsen refuses");
  }
  return out;
}

}  // namespace

TokenAuthorizer::TokenAuthorizer(TokenAuthorizerOptions options) : options_(std::move(options)) {
  auto keys = std::make_shared<const TokenKeys>(options_.rootcertbundle, options_.jwks);
  TokenVerifierOptions verify;
  verify.issuer = options_.issuer;
  verify.service = options_.service;
  verify.algorithms = allowed_algorithms(options_.signing_algorithms);
  verify.leeway = options_.leeway;
  spdlog::info(
      "token auth: {} root certificate(s), {} trusted key ID(s), issuer \"{}\", "
      "service \"{}\"",
      keys->root_count(), keys->key_count(), loggable(options_.issuer), loggable(options_.service));
  verifier_ = std::make_unique<TokenVerifier>(std::move(keys), std::move(verify));
  if (options_.cache_capacity == 0) options_.cache_capacity = 1;
}

int64_t TokenAuthorizer::now() const {
  if (options_.now) return options_.now();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string TokenAuthorizer::challenge_for(const Credentials& credentials,
                                           const std::vector<Access>& access,
                                           Problem problem) const {
  std::string realm = options_.realm;
  if (options_.autoredirect) {
    // Distribution 3's buildAutoRedirectURL: https unless a proxy said otherwise.
    std::string scheme =
        credentials.forwarded_proto.empty() ? "https" : std::string(credentials.forwarded_proto);
    realm = scheme + "://" + std::string(credentials.host) + options_.autoredirect_path;
  }
  std::string out = "Bearer realm=" + go_quote(realm) + ",service=" + go_quote(options_.service);
  if (std::string scope = scope_of(access); !scope.empty()) out += ",scope=" + go_quote(scope);
  if (problem == Problem::kInvalid) out += ",error=\"invalid_token\"";
  if (problem == Problem::kInsufficientScope) out += ",error=\"insufficient_scope\"";
  return out;
}

std::string TokenAuthorizer::challenge(const std::vector<Access>& access) const {
  return challenge_for(Credentials{}, access, Problem::kNone);
}

Decision TokenAuthorizer::unauthorized(const Credentials& credentials,
                                       const std::vector<Access>& access, Problem problem) const {
  Decision d;
  d.verdict = Verdict::kUnauthorized;
  d.challenge = challenge_for(credentials, access, problem);
  return d;
}

std::shared_ptr<const VerifiedToken> TokenAuthorizer::cached(const std::string& key) const {
  std::lock_guard lock(cache_mu_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

void TokenAuthorizer::remember(const std::string& key, std::shared_ptr<const VerifiedToken> token) {
  std::lock_guard lock(cache_mu_);
  if (cache_.size() >= options_.cache_capacity) {
    // Expired tokens go first; if all are live, start over (a token is verified again at most
    // once per refill, and tokens live minutes).
    int64_t t = now() - options_.leeway.count();
    std::erase_if(cache_, [t](const auto& entry) { return entry.second->expiration < t; });
    if (cache_.size() >= options_.cache_capacity) cache_.clear();
  }
  cache_[key] = std::move(token);
}

void TokenAuthorizer::forget(const std::string& key) {
  std::lock_guard lock(cache_mu_);
  cache_.erase(key);
}

std::size_t TokenAuthorizer::cached_tokens() const {
  std::lock_guard lock(cache_mu_);
  return cache_.size();
}

Decision TokenAuthorizer::decide(const Credentials& credentials, const std::vector<Access>& access,
                                 const std::shared_ptr<const VerifiedToken>& token) {
  if (!token->grants(access)) {
    spdlog::info("token of \"{}\" from {} lacks scope {}", loggable(token->subject),
                 loggable(credentials.client), loggable(scope_of(access), 256));
    return unauthorized(credentials, access, Problem::kInsufficientScope);
  }
  Decision d;
  d.verdict = Verdict::kAllowed;
  d.user = token->subject;
  return d;
}

std::optional<Decision> TokenAuthorizer::decide_without_blocking(
    const Credentials& credentials, const std::vector<Access>& access) {
  std::string_view raw = bearer_token(credentials.authorization);
  if (raw.empty()) return unauthorized(credentials, access, Problem::kNone);
  std::string key = cache_key(raw);
  auto token = cached(key);
  if (!token) return std::nullopt;
  std::string why;
  if (!verifier_->in_window(*token, now(), &why)) {
    forget(key);
    spdlog::info("token refused from {}: {}", loggable(credentials.client), why);
    return unauthorized(credentials, access, Problem::kInvalid);
  }
  return decide(credentials, access, token);
}

Decision TokenAuthorizer::authorize(const Credentials& credentials,
                                    const std::vector<Access>& access) {
  if (auto quick = decide_without_blocking(credentials, access)) return *quick;
  std::string_view raw = bearer_token(credentials.authorization);
  std::string why;
  auto verified = verifier_->verify(raw, now(), &why);
  if (!verified) {
    spdlog::info("token refused from {}: {}", loggable(credentials.client), why);
    return unauthorized(credentials, access, Problem::kInvalid);
  }
  auto token = std::make_shared<const VerifiedToken>(std::move(*verified));
  remember(cache_key(raw), token);
  return decide(credentials, access, token);
}

}  // namespace onsen::auth
