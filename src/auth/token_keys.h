// The keys a token may be signed with, as Distribution's token auth trusts them:
//   - rootcertbundle (PEM certificates): the roots of the x5c chains a token header may carry
//     (verified with X509_verify_cert; any certificate of the bundle is a trust anchor, as in Go's
//     CertPool), and each root's own public key by two key IDs: libtrust's (registry:2.8:
//     base32 of the first 30 bytes of SHA-256 of the DER SubjectPublicKeyInfo, in groups of four
//     joined by ':') and the RFC 7638 JWK thumbprint (Distribution 3);
//   - jwks (a JSON Web Key Set file, Distribution 3): public keys by their "kid" (RSA, EC P-256/
//     384/521, OKP Ed25519).
// A header's embedded "jwk" is not trusted by itself (registry:2 would look its key ID up among
// the same keys; no token server of note sends one), so only x5c and kid select a key.
// A verified chain is remembered for a few minutes (by the SHA-256 of its certificates): a token
// server signs every token with the same certificate, and building and verifying the chain costs
// milliseconds with OpenSSL 3 (decoding each certificate's key), the signature microseconds.
// Thread-safe.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace onsen::auth {

using PublicKey = std::shared_ptr<EVP_PKEY>;

class TokenKeys {
 public:
  // Reads the files (either may be ""; not both). Throws std::runtime_error naming the file and
  // the problem: unreadable, no certificate or no key in it, a key of an unsupported type.
  TokenKeys(const std::string& rootcertbundle, const std::string& jwks);
  ~TokenKeys();
  TokenKeys(const TokenKeys&) = delete;
  TokenKeys& operator=(const TokenKeys&) = delete;

  // The trusted key a header's "kid" names; null if none.
  PublicKey by_kid(std::string_view kid) const;
  // The leaf's public key when the x5c chain (base64 DER, leaf first, then intermediates)
  // verifies up to a root of the bundle; null and a reason in `why` otherwise.
  PublicKey by_chain(const std::vector<std::string>& x5c, std::string* why) const;

  std::size_t root_count() const { return roots_; }
  std::size_t key_count() const { return keys_.size(); }

  // The key IDs a bundle certificate's key is known by.
  static std::string libtrust_key_id(EVP_PKEY* key);
  static std::string jwk_thumbprint(EVP_PKEY* key);  // "" for a key type JWK has no form for

 private:
  void load_bundle(const std::string& path);
  void load_jwks(const std::string& path);

  PublicKey verify_chain(const std::vector<std::string>& x5c, std::string* why) const;

  X509_STORE* store_ = nullptr;
  std::size_t roots_ = 0;
  std::map<std::string, PublicKey, std::less<>> keys_;

  struct VerifiedChain {
    PublicKey leaf_key;
    std::chrono::steady_clock::time_point until;
  };
  mutable std::mutex chains_mu_;
  mutable std::unordered_map<std::string, VerifiedChain> chains_;  // by SHA-256 of the x5c
};

}  // namespace onsen::auth
