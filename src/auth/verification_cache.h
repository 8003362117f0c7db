// Remembers credentials that bcrypt has already accepted, so that the Basic header a client sends
// on every request costs one HMAC and one hash-map lookup instead of a bcrypt (milliseconds); and
// credentials it has refused, so that a client repeating a wrong password (docker and ctr send the
// stored one on every request and retry) costs no bcrypt either and is not counted again as a new
// guess by the failure throttle.
//
// Key: HMAC-SHA256(secret, user + '\0' + password), with a 32-byte secret drawn from the OS at
// construction and never leaving the process: the password is never stored, and the keys are
// useless outside this process (no offline guessing from a memory dump without the secret too).
// Value: the user name and the htpasswd generation it was verified against; a lookup only hits if
// the generation is still the current one, so an entry verified against an older file never
// answers (the owner also clear()s on reload to free the memory): a password refused under one
// file is verified again once the file changes. Bounded: successes and refusals are kept apart,
// each up to the capacity, and inserting at capacity evicts the oldest entry of its kind (FIFO) —
// so a flood of wrong passwords cannot push out the credentials of logged-in clients.
//
// Thread-safety: all members are thread-safe. lookup() takes a shared lock; insert() and clear()
// an exclusive one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace onsen::auth {

class VerificationCache {
 public:
  using Key = std::array<unsigned char, 32>;

  explicit VerificationCache(std::size_t capacity);
  ~VerificationCache();
  VerificationCache(const VerificationCache&) = delete;
  VerificationCache& operator=(const VerificationCache&) = delete;

  // HMAC-SHA256 of user + '\0' + password under this cache's secret.
  Key key_for(std::string_view user, std::string_view password) const;

  // The user name cached under `key` for `generation`, if any.
  std::optional<std::string> lookup(const Key& key, std::uint64_t generation) const;
  // Whether `key` was refused under `generation`.
  bool refused(const Key& key, std::uint64_t generation) const;
  // Caches a successful verification (replacing any entry under the same key).
  void insert(const Key& key, std::string_view user, std::uint64_t generation);
  // Caches a refused one.
  void insert_refused(const Key& key, std::uint64_t generation);
  void clear();
  std::size_t size() const;  // successes and refusals

  // Hash-map hasher for keys.
  struct KeyHash {
    // The key is an HMAC output: uniformly random to anyone without the secret, so its first
    // bytes are a fine hash and cannot be steered into collisions.
    std::size_t operator()(const Key& key) const {
      std::size_t h;
      std::memcpy(&h, key.data(), sizeof h);
      return h;
    }
  };
  // Hash-map key equality in constant time (CRYPTO_memcmp, never memcmp or ==): no comparison in
  // src/auth exits early on secret-derived bytes. (An HMAC under a secret the client never sees
  // would leak little through an early exit; the rule is simpler without exceptions.) The other
  // secret comparison, bcrypt's output against the stored hash, is in verify_bcrypt().
  struct KeyEqual {
    bool operator()(const Key& a, const Key& b) const;
  };

 private:
  struct Entry {
    std::string user;  // empty for a refusal
    std::uint64_t generation;
  };
  // Entries of one kind with their insertion order. Guarded by mu_.
  struct Pool {
    std::unordered_map<Key, Entry, KeyHash, KeyEqual> entries;
    std::deque<Key> order;
  };
  void insert_into(Pool& pool, const Key& key, Entry entry);  // mu_ held exclusively

  const std::size_t capacity_;
  // HMAC-SHA256 context keyed with the random secret, never used itself: key_for() duplicates it
  // (concurrent duplication only reads it), which spares the per-call algorithm fetch and key
  // schedule of one-shot HMAC(). The secret itself is wiped once the template holds it.
  EVP_MAC_CTX* keyed_template_ = nullptr;
  mutable std::shared_mutex mu_;
  Pool verified_;  // guarded by mu_
  Pool refused_;   // guarded by mu_
};

}  // namespace onsen::auth
