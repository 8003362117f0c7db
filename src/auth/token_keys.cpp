#include "auth/token_keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "auth/jose_encoding.h"
#include "auth/sha256.h"

namespace onsen::auth {

namespace {

using json = nlohmann::json;

PublicKey own(EVP_PKEY* key) {
  return PublicKey(key, EVP_PKEY_free);
}

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read token auth " + std::string(what) + " " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string bn_bytes(const BIGNUM* bn, int width = 0) {
  int n = width > 0 ? width : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (width > 0 ? BN_bn2binpad(bn, p, width) != width : BN_bn2bin(bn, p) != n) return {};
  return out;
}

struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;

Bn bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return nullptr;
  return Bn(bn);
}

// JWK's curve names and OpenSSL's, with the field size in bytes.
struct JwkCurve {
  std::string_view jwk;
  const char* openssl;
  int bytes;
};
constexpr JwkCurve kCurves[] = {
    {"P-256", "prime256v1", 32}, {"P-384", "secp384r1", 48}, {"P-521", "secp521r1", 66}};

// Builds a public key of `type` from OSSL parameters.
PublicKey from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  return own(key);
}

std::string member(const json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string())
    throw std::runtime_error(std::string("no \"") + name + "\"");
  auto bytes = base64url_decode(it->get<std::string>());
  if (!bytes || bytes->empty()) throw std::runtime_error(std::string("bad \"") + name + "\"");
  return *bytes;
}

// One JWK (RFC 7517/7518/8037) as an EVP public key; throws std::runtime_error with the reason.
PublicKey key_from_jwk(const json& jwk) {
  std::string kty = jwk.value("kty", "");
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  if (kty == "RSA") {
    std::string n = member(jwk, "n"), e = member(jwk, "e");
    Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()),
                      nullptr));
    Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()),
                      nullptr));
    if (!bn_n || !bn_e ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
      throw std::runtime_error("bad RSA key");
    }
    if (auto key = from_params("RSA", bld.get())) return key;
    throw std::runtime_error("bad RSA key");
  }
  if (kty == "EC") {
    std::string crv = jwk.value("crv", "");
    for (const auto& c : kCurves) {
      if (c.jwk != crv) continue;
      std::string x = member(jwk, "x"), y = member(jwk, "y");
      if (x.size() != static_cast<std::size_t>(c.bytes) || y.size() != x.size()) {
        throw std::runtime_error("EC coordinates of the wrong length for " + crv);
      }
      std::string point = "\x04" + x + y;  // uncompressed SEC 1 point
      if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, c.openssl, 0) !=
              1 ||
          OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                           point.size()) != 1) {
        throw std::runtime_error("bad EC key");
      }
      if (auto key = from_params("EC", bld.get())) return key;
      throw std::runtime_error("bad EC key (not a point of " + crv + ")");
    }
    throw std::runtime_error("unsupported EC curve \"" + crv + "\"");
  }
  if (kty == "OKP") {
    std::string crv = jwk.value("crv", "");
    int type = crv == "Ed25519" ? EVP_PKEY_ED25519 : crv == "Ed448" ? EVP_PKEY_ED448 : 0;
    if (type == 0) throw std::runtime_error("unsupported OKP curve \"" + crv + "\"");
    std::string x = member(jwk, "x");
    EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
        type, nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size());
    if (!key) throw std::runtime_error("bad " + crv + " key");
    return own(key);
  }
  throw std::runtime_error("unsupported key type \"" + kty + "\"");
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr parse_der_certificate(const std::string& b64) {
  auto der = base64_decode(b64);
  if (!der) return nullptr;
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der->size()));
  if (cert && p != reinterpret_cast<const unsigned char*>(der->data() + der->size())) {
    X509_free(cert);  // trailing bytes after the certificate
    return nullptr;
  }
  return X509Ptr(cert);
}

}  // namespace

TokenKeys::TokenKeys(const std::string& rootcertbundle, const std::string& jwks)
    : store_(X509_STORE_new()) {
  if (!store_) throw std::runtime_error("cannot create a certificate store");
  try {
    // As Go's CertPool: every certificate of the bundle anchors a chain, self-signed or not.
    X509_STORE_set_flags(store_, X509_V_FLAG_PARTIAL_CHAIN);
    if (!rootcertbundle.empty()) load_bundle(rootcertbundle);
    if (!jwks.empty()) load_jwks(jwks);
    if (keys_.empty())
      throw std::runtime_error("token auth requires at least one token signing key");
  } catch (...) {
    X509_STORE_free(store_);
    ERR_clear_error();
    throw;
  }
}

TokenKeys::~TokenKeys() {
  X509_STORE_free(store_);
}

void TokenKeys::load_bundle(const std::string& path) {
  std::string text = read_file(path, "root certificate bundle");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
  // PEM_read_bio_X509 skips blocks of other types (keys), as Distribution's loop does.
  while (X509* raw = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509Ptr cert(raw);
    EVP_PKEY* key = X509_get0_pubkey(cert.get());
    if (!key)
      throw std::runtime_error("unable to get public key from token auth root certificate in " +
                               path);
    EVP_PKEY_up_ref(key);
    PublicKey shared = own(key);
    keys_[libtrust_key_id(key)] = shared;
    if (auto thumbprint = jwk_thumbprint(key); !thumbprint.empty()) keys_[thumbprint] = shared;
    if (X509_STORE_add_cert(store_, cert.get()) != 1) {
      // A duplicate certificate is harmless; anything else is not.
      unsigned long err = ERR_peek_last_error();
      if (ERR_GET_REASON(err) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
        throw std::runtime_error("cannot add a token auth root certificate of " + path);
      }
    }
    ++roots_;
  }
  ERR_clear_error();  // the end of the file reads as an error
  if (roots_ == 0) {
    throw std::runtime_error("token auth root certificate bundle " + path +
                             " holds no certificate");
  }
}

void TokenKeys::load_jwks(const std::string& path) {
  json set = json::parse(read_file(path, "jwks"), nullptr, false);
  if (set.is_discarded() || !set.is_object() || !set.contains("keys") || !set["keys"].is_array()) {
    throw std::runtime_error("failed to parse jwks " + path + ": expected {\"keys\": [...]}");
  }
  std::size_t index = 0;
  for (const auto& jwk : set["keys"]) {
    if (!jwk.is_object())
      throw std::runtime_error("jwks " + path + ": keys[" + std::to_string(index) +
                               "] is not an object");
    std::string kid = jwk.value("kid", "");
    try {
      auto key = key_from_jwk(jwk);
      // A key without a kid can never be selected: a token names its key by kid.
      if (!kid.empty()) keys_[kid] = std::move(key);
    } catch (const std::exception& e) {
      ERR_clear_error();
      throw std::runtime_error("jwks " + path + ": key " +
                               (kid.empty() ? std::to_string(index) : "\"" + kid + "\"") + ": " +
                               e.what());
    }
    ++index;
  }
}

PublicKey TokenKeys::by_kid(std::string_view kid) const {
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : it->second;
}

namespace {

// How long a verified chain is trusted without verifying it again (a certificate expiring or a
// root leaving the bundle, which needs a restart anyway, takes effect within this), and how many
// distinct chains are remembered (a token server has one or two; past this, start over).
constexpr auto kChainTtl = std::chrono::minutes(5);
constexpr std::size_t kMaxChains = 64;

}  // namespace

PublicKey TokenKeys::by_chain(const std::vector<std::string>& x5c, std::string* why) const {
  std::string id;
  for (const auto& cert : x5c) {
    id += sha256_bytes(cert);  // fixed-width pieces: no two chains give the same concatenation
  }
  id = sha256_bytes(id);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(chains_mu_);
    auto it = chains_.find(id);
    if (it != chains_.end() && it->second.until > now) return it->second.leaf_key;
  }
  PublicKey key = verify_chain(x5c, why);
  if (key) {
    std::lock_guard lock(chains_mu_);
    if (chains_.size() >= kMaxChains) chains_.clear();
    chains_[id] = {key, now + kChainTtl};
  }
  return key;
}

PublicKey TokenKeys::verify_chain(const std::vector<std::string>& x5c, std::string* why) const {
  auto fail = [why](std::string reason) -> PublicKey {
    ERR_clear_error();
    if (why) *why = std::move(reason);
    return nullptr;
  };
  if (x5c.empty()) return fail("empty x5c chain");
  if (x5c.size() > 10) return fail("x5c chain too long");
  X509Ptr leaf = parse_der_certificate(x5c[0]);
  if (!leaf) return fail("unable to parse leaf certificate");
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> intermediates(
      sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); });
  for (std::size_t i = 1; i < x5c.size(); ++i) {
    X509Ptr cert = parse_der_certificate(x5c[i]);
    if (!cert) return fail("unable to parse intermediate certificate");
    if (sk_X509_push(intermediates.get(), cert.get()) == 0) return fail("out of memory");
    cert.release();
  }
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_, leaf.get(), intermediates.get()) != 1) {
    return fail("cannot set up chain verification");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    return fail(std::string("unable to verify certificate chain: ") +
                X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  EVP_PKEY* key = X509_get0_pubkey(leaf.get());
  if (!key) return fail("unable to get leaf certificate public key");
  EVP_PKEY_up_ref(key);
  return own(key);
}

std::string TokenKeys::libtrust_key_id(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key, &der);
  if (length <= 0) return {};
  std::string digest = sha256_bytes(std::string_view(reinterpret_cast<char*>(der), length));
  OPENSSL_free(der);
  std::string b32 = base32_encode(std::string_view(digest).substr(0, 30));  // 48 characters
  std::string out;
  for (std::size_t i = 0; i < b32.size(); i += 4) {
    if (i > 0) out += ':';
    out += b32.substr(i, 4);
  }
  return out;
}

std::string TokenKeys::jwk_thumbprint(EVP_PKEY* key) {
  // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace.
  std::string canonical;
  if (EVP_PKEY_is_a(key, "RSA") == 1) {
    Bn n = bn_param(key, OSSL_PKEY_PARAM_RSA_N), e = bn_param(key, OSSL_PKEY_PARAM_RSA_E);
    if (!n || !e) return {};
    canonical = R"({"e":")" + base64url_encode(bn_bytes(e.get())) + R"(","kty":"RSA","n":")" +
                base64url_encode(bn_bytes(n.get())) + R"("})";
  } else if (EVP_PKEY_is_a(key, "EC") == 1) {
    char group[64];
    std::size_t length = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) != 1) return {};
    const JwkCurve* curve = nullptr;
    for (const auto& c : kCurves) {
      if (std::string_view(group, length) == c.openssl) curve = &c;
    }
    Bn x = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X), y = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y);
    if (!curve || !x || !y) return {};
    canonical = R"({"crv":")" + std::string(curve->jwk) + R"(","kty":"EC","x":")" +
                base64url_encode(bn_bytes(x.get(), curve->bytes)) + R"(","y":")" +
                base64url_encode(bn_bytes(y.get(), curve->bytes)) + R"("})";
  } else if (EVP_PKEY_is_a(key, "ED25519") == 1) {
    unsigned char raw[32];
    std::size_t length = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &length) != 1) return {};
    canonical = R"({"crv":"Ed25519","kty":"OKP","x":")" +
                base64url_encode(std::string_view(reinterpret_cast<char*>(raw), length)) + R"("})";
  } else {
    return {};
  }
  ERR_clear_error();
  return base64url_encode(sha256_bytes(canonical));
}

}  // namespace onsen::auth
