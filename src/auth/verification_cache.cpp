#include "auth/verification_cache.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <mutex>
#include <stdexcept>

namespace onsen::auth {

VerificationCache::VerificationCache(std::size_t capacity)
    : capacity_(capacity == 0 ? 1 : capacity) {
  std::array<unsigned char, 32> secret;
  if (RAND_priv_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    throw std::runtime_error("cannot draw a random secret for the verification cache");
  }
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  keyed_template_ = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
  EVP_MAC_free(mac);  // the context holds its own reference
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  bool ok = keyed_template_ != nullptr &&
            EVP_MAC_init(keyed_template_, secret.data(), secret.size(), params) == 1;
  OPENSSL_cleanse(secret.data(), secret.size());
  if (!ok) {
    EVP_MAC_CTX_free(keyed_template_);
    throw std::runtime_error("cannot set up HMAC-SHA256 for the verification cache");
  }
}

VerificationCache::~VerificationCache() {
  EVP_MAC_CTX_free(keyed_template_);
}

VerificationCache::Key VerificationCache::key_for(std::string_view user,
                                                  std::string_view password) const {
  // The message is user '\0' password, fed in three parts (no copy of the password).
  static constexpr unsigned char kSeparator = 0;
  Key key{};
  std::size_t length = 0;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed_template_);
  bool ok = ctx != nullptr &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(user.data()), user.size()) &&
            EVP_MAC_update(ctx, &kSeparator, 1) &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(password.data()),
                           password.size()) &&
            EVP_MAC_final(ctx, key.data(), &length, key.size()) && length == key.size();
  EVP_MAC_CTX_free(ctx);  // frees (and OpenSSL cleanses) the intermediate state
  if (!ok) throw std::runtime_error("HMAC-SHA256 failed");
  return key;
}

bool VerificationCache::KeyEqual::operator()(const Key& a, const Key& b) const {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> VerificationCache::lookup(const Key& key,
                                                     std::uint64_t generation) const {
  std::shared_lock lock(mu_);
  auto it = verified_.entries.find(key);
  if (it == verified_.entries.end() || it->second.generation != generation) return std::nullopt;
  return it->second.user;
}

bool VerificationCache::refused(const Key& key, std::uint64_t generation) const {
  std::shared_lock lock(mu_);
  auto it = refused_.entries.find(key);
  return it != refused_.entries.end() && it->second.generation == generation;
}

void VerificationCache::insert(const Key& key, std::string_view user, std::uint64_t generation) {
  std::unique_lock lock(mu_);
  insert_into(verified_, key, Entry{std::string(user), generation});
}

void VerificationCache::insert_refused(const Key& key, std::uint64_t generation) {
  std::unique_lock lock(mu_);
  insert_into(refused_, key, Entry{{}, generation});
}

void VerificationCache::insert_into(Pool& pool, const Key& key, Entry entry) {
  auto [it, inserted] = pool.entries.try_emplace(key, entry);
  if (!inserted) {
    it->second = std::move(entry);
    return;
  }
  pool.order.push_back(key);
  while (pool.entries.size() > capacity_ && !pool.order.empty()) {
    pool.entries.erase(pool.order.front());
    pool.order.pop_front();
  }
}

void VerificationCache::clear() {
  std::unique_lock lock(mu_);
  verified_ = {};
  refused_ = {};
}

std::size_t VerificationCache::size() const {
  std::shared_lock lock(mu_);
  return verified_.entries.size() + refused_.entries.size();
}

}  // namespace onsen::auth
