// Verifies a JWS signature (RFC 7515/7518, RFC 8037) with OpenSSL's EVP interface directly: the
// asymmetric algorithms a token server signs with. Neither JWT library of Debian 12 covers them:
// libjwt 1.10.2 and cpp-jwt 1.4 know HS/RS/ES only (no PS*, no EdDSA) and neither verifies an x5c
// chain or reads a JWKS, so Onsen uses EVP for the signature and nlohmann-json for the parts.
// HMAC ("HS*") and "none" are not algorithms here at all: with public trust material, HS256 keyed
// by a public key is the classic forgery, and "none" is no signature.
#pragma once

#include <openssl/evp.h>

#include <optional>
#include <string_view>

namespace onsen::auth {

enum class JwsAlgorithm {
  kRS256,
  kRS384,
  kRS512,
  kPS256,
  kPS384,
  kPS512,
  kES256,
  kES384,
  kES512,
  kEdDSA
};

// The algorithm of a header's "alg"; nullopt for "none", HS*, and anything unknown.
std::optional<JwsAlgorithm> jws_algorithm(std::string_view name);
std::string_view jws_algorithm_name(JwsAlgorithm alg);
// Whether `name` is an HMAC algorithm (HS256/384/512): refused, but named so in config errors.
bool is_hmac_algorithm(std::string_view name);

// True when `signature` is `alg`'s valid signature of `input` under `key`, and `key` is of the
// type and size `alg` requires (RS*/PS*: RSA; ES256/384/512: EC on P-256/384/521 with a raw
// r||s signature of twice the field size; EdDSA: Ed25519 or Ed448). Never throws.
bool verify_jws_signature(JwsAlgorithm alg, EVP_PKEY* key, std::string_view input,
                          std::string_view signature);

}  // namespace onsen::auth
