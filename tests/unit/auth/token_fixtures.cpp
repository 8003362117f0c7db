#include "token_fixtures.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <stdexcept>

namespace onsen::test {

namespace {

std::string b64(std::string_view bytes, bool url) {
  static constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* alphabet = url ? kUrl : kStd;
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (rest == 2) v |= uint8_t(bytes[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (rest == 2) out += alphabet[(v >> 6) & 63];
    if (!url) out += rest == 2 ? "=" : "==";
  }
  return out;
}

std::string b64url(std::string_view bytes) {
  return b64(bytes, true);
}

Pkey own(EVP_PKEY* key) {
  if (!key) throw std::runtime_error("key generation failed");
  return Pkey(key, EVP_PKEY_free);
}

std::string bn_param(const Pkey& key, const char* name, int width = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key.get(), name, &bn) != 1) throw std::runtime_error("no bn param");
  int n = width > 0 ? width : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(n), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n);
  BN_free(bn);
  return out;
}

std::string digest_sign(const Pkey& key, const EVP_MD* md, bool pss, std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1) {
    throw std::runtime_error("sign init failed");
  }
  if (pss) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t length = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &length, data, input.size()) != 1) {
    throw std::runtime_error("sign failed");
  }
  std::string sig(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &length, data,
                     input.size()) != 1) {
    throw std::runtime_error("sign failed");
  }
  sig.resize(length);
  return sig;
}

// DER ECDSA-Sig-Value -> JWS's fixed-width r||s.
std::string raw_ecdsa(const std::string& der, int width) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!sig) throw std::runtime_error("bad ECDSA signature");
  std::string out(static_cast<std::size_t>(2 * width), '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), o, width);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), o + width, width);
  ECDSA_SIG_free(sig);
  return out;
}

}  // namespace

Pkey generate_rsa(int bits) {
  return own(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
}
Pkey generate_ec(const char* curve) {
  return own(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}
Pkey generate_ed25519() {
  return own(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
}

Cert make_certificate(const Pkey& key, const std::string& common_name, const Pkey& issuer_key,
                      const Cert& issuer, bool ca) {
  Cert cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer.get()) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer ? issuer.get() : cert.get(), cert.get(), nullptr, nullptr, 0);
  const char* constraints = ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_basic_constraints, constraints);
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  if (ca) {
    ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  const Pkey& signer = issuer_key ? issuer_key : key;
  const EVP_MD* md = EVP_PKEY_is_a(signer.get(), "ED25519") ? nullptr : EVP_sha256();
  if (X509_sign(cert.get(), signer.get(), md) == 0) throw std::runtime_error("X509_sign failed");
  return cert;
}

std::string pem_of(const Cert& cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string der_base64_of(const Cert& cert) {
  unsigned char* der = nullptr;
  int n = i2d_X509(cert.get(), &der);
  std::string out = b64(std::string_view(reinterpret_cast<char*>(der), n), false);
  OPENSSL_free(der);
  return out;
}

std::string public_pem_of(const Pkey& key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

nlohmann::json jwk_of(const Pkey& key, const std::string& kid) {
  if (EVP_PKEY_is_a(key.get(), "RSA")) {
    return {{"kty", "RSA"},
            {"kid", kid},
            {"n", b64url(bn_param(key, OSSL_PKEY_PARAM_RSA_N))},
            {"e", b64url(bn_param(key, OSSL_PKEY_PARAM_RSA_E))}};
  }
  if (EVP_PKEY_is_a(key.get(), "EC")) {
    int width = (EVP_PKEY_get_bits(key.get()) + 7) / 8;
    const char* crv = width == 32 ? "P-256" : width == 48 ? "P-384" : "P-521";
    return {{"kty", "EC"},
            {"kid", kid},
            {"crv", crv},
            {"x", b64url(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, width))},
            {"y", b64url(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, width))}};
  }
  unsigned char raw[32];
  std::size_t length = sizeof raw;
  EVP_PKEY_get_raw_public_key(key.get(), raw, &length);
  return {{"kty", "OKP"},
          {"kid", kid},
          {"crv", "Ed25519"},
          {"x", b64url(std::string_view(reinterpret_cast<char*>(raw), length))}};
}

std::string sign_jwt(const nlohmann::json& header, const nlohmann::json& claims, const Pkey& key,
                     const std::string& secret) {
  std::string input = b64url(header.dump()) + "." + b64url(claims.dump());
  std::string alg = header.value("alg", "");
  std::string sig;
  if (alg == "none") {
    sig = "";
  } else if (alg == "HS256") {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n);
    sig.assign(reinterpret_cast<char*>(mac), n);
  } else if (alg == "EdDSA") {
    sig = digest_sign(key, nullptr, false, input);
  } else {
    const EVP_MD* md = alg.ends_with("256")   ? EVP_sha256()
                       : alg.ends_with("384") ? EVP_sha384()
                                              : EVP_sha512();
    sig = digest_sign(key, md, alg.starts_with("PS"), input);
    if (alg.starts_with("ES")) {
      sig = raw_ecdsa(sig, alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66);
    }
  }
  return input + "." + b64url(sig);
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace onsen::test
