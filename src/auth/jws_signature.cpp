#include "auth/jws_signature.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <array>
#include <memory>
#include <string>

namespace onsen::auth {

namespace {

struct Named {
  std::string_view name;
  JwsAlgorithm alg;
};
constexpr std::array<Named, 10> kAlgorithms = {{
    {"RS256", JwsAlgorithm::kRS256},
    {"RS384", JwsAlgorithm::kRS384},
    {"RS512", JwsAlgorithm::kRS512},
    {"PS256", JwsAlgorithm::kPS256},
    {"PS384", JwsAlgorithm::kPS384},
    {"PS512", JwsAlgorithm::kPS512},
    {"ES256", JwsAlgorithm::kES256},
    {"ES384", JwsAlgorithm::kES384},
    {"ES512", JwsAlgorithm::kES512},
    {"EdDSA", JwsAlgorithm::kEdDSA},
}};

const EVP_MD* digest_of(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kRS256:
    case JwsAlgorithm::kPS256:
    case JwsAlgorithm::kES256:
      return EVP_sha256();
    case JwsAlgorithm::kRS384:
    case JwsAlgorithm::kPS384:
    case JwsAlgorithm::kES384:
      return EVP_sha384();
    case JwsAlgorithm::kRS512:
    case JwsAlgorithm::kPS512:
    case JwsAlgorithm::kES512:
      return EVP_sha512();
    case JwsAlgorithm::kEdDSA:
      return nullptr;  // EdDSA hashes internally
  }
  return nullptr;
}

bool is_rsa(JwsAlgorithm alg) {
  return alg <= JwsAlgorithm::kPS512;
}
bool is_pss(JwsAlgorithm alg) {
  return alg >= JwsAlgorithm::kPS256 && alg <= JwsAlgorithm::kPS512;
}

// ES*: the curve the algorithm names (RFC 7518 §3.4) and its field size in bytes.
struct Curve {
  const char* group;
  std::size_t bytes;
};
Curve curve_of(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kES256:
      return {"prime256v1", 32};
    case JwsAlgorithm::kES384:
      return {"secp384r1", 48};
    default:
      return {"secp521r1", 66};
  }
}

bool key_fits(JwsAlgorithm alg, EVP_PKEY* key) {
  if (is_rsa(alg)) return EVP_PKEY_is_a(key, "RSA") == 1 || EVP_PKEY_is_a(key, "RSA-PSS") == 1;
  if (alg == JwsAlgorithm::kEdDSA) {
    return EVP_PKEY_is_a(key, "ED25519") == 1 || EVP_PKEY_is_a(key, "ED448") == 1;
  }
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64];
  std::size_t length = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) != 1) return false;
  return std::string_view(group, length) == curve_of(alg).group;
}

// JWS carries an ECDSA signature as r||s, each zero-padded to the field size; OpenSSL verifies
// the DER ECDSA-Sig-Value. Empty on a wrong length.
std::string ecdsa_der(JwsAlgorithm alg, std::string_view raw) {
  std::size_t n = curve_of(alg).bytes;
  if (raw.size() != 2 * n) return {};
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
  BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(n), nullptr);
  BIGNUM* s = BN_bin2bn(bytes + n, static_cast<int>(n), nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return {};
  }
  int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return {};
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != length) return {};
  return der;
}

}  // namespace

std::optional<JwsAlgorithm> jws_algorithm(std::string_view name) {
  for (const auto& a : kAlgorithms) {
    if (a.name == name) return a.alg;
  }
  return std::nullopt;
}

std::string_view jws_algorithm_name(JwsAlgorithm alg) {
  for (const auto& a : kAlgorithms) {
    if (a.alg == alg) return a.name;
  }
  return "";
}

bool is_hmac_algorithm(std::string_view name) {
  return name == "HS256" || name == "HS384" || name == "HS512";
}

namespace {

bool verify(JwsAlgorithm alg, EVP_PKEY* key, std::string_view input, std::string_view signature) {
  if (key == nullptr || signature.empty() || !key_fits(alg, key)) return false;
  std::string der;
  if (alg >= JwsAlgorithm::kES256 && alg <= JwsAlgorithm::kES512) {
    der = ecdsa_der(alg, signature);
    if (der.empty()) return false;
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, digest_of(alg), nullptr, key) != 1) {
    return false;
  }
  if (is_pss(alg)) {
    // RFC 7518 §3.5: MGF1 with the same hash; the salt is as long as the hash, which AUTO
    // accepts (as Go's verifier does), reading the length from the signature.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1) {
      return false;
    }
  } else if (is_rsa(alg) && EVP_PKEY_is_a(key, "RSA-PSS") == 1) {
    return false;  // a PSS-only key signs no PKCS#1 v1.5 (RS*) signature
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                          input.size()) == 1;
}

}  // namespace

bool verify_jws_signature(JwsAlgorithm alg, EVP_PKEY* key, std::string_view input,
                          std::string_view signature) {
  bool ok = verify(alg, key, input, signature);
  // A refused signature leaves OpenSSL errors on this thread's queue, where TLS code sharing the
  // thread would later find them.
  ERR_clear_error();
  return ok;
}

}  // namespace onsen::auth
