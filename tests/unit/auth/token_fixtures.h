// What the token tests sign with: keys, a CA and certificates made with OpenSSL on the spot, and
// a JWS signer for every algorithm the verifier knows (plus HS256, to forge with). Independent of
// src/auth's verifier: it signs with EVP_DigestSign and writes JWS's r||s form by itself.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace onsen::test {

using Pkey = std::shared_ptr<EVP_PKEY>;
using Cert = std::shared_ptr<X509>;

Pkey generate_rsa(int bits = 2048);
Pkey generate_ec(const char* curve = "P-256");
Pkey generate_ed25519();

// A certificate for `key`, signed by `issuer_key` (self-signed when issuer is null), a CA when
// `ca`; valid from an hour ago for a year.
Cert make_certificate(const Pkey& key, const std::string& common_name, const Pkey& issuer_key,
                      const Cert& issuer, bool ca);
std::string pem_of(const Cert& cert);
std::string der_base64_of(const Cert& cert);  // standard base64, as x5c carries it
std::string public_pem_of(const Pkey& key);   // SubjectPublicKeyInfo PEM
nlohmann::json jwk_of(const Pkey& key, const std::string& kid);  // the public JWK

// header.claims.signature with `alg` (RS*/PS*/ES*/EdDSA by `key`; "HS256" keyed by `secret`;
// "none": an empty signature).
std::string sign_jwt(const nlohmann::json& header, const nlohmann::json& claims, const Pkey& key,
                     const std::string& secret = "");

int64_t unix_now();

}  // namespace onsen::test
