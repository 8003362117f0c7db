// The comparisons on secret-derived bytes in src/auth are constant-time (CRYPTO_memcmp):
// VerificationCache::KeyEqual for the HMAC keys, verify_bcrypt() for bcrypt's output. Timing is
// not measurable in a unit test; these pin down that the constant-time comparisons are the ones
// in use and still compare every byte (a key differing only in its last byte must miss).
#include <crypt.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "auth/htpasswd.h"
#include "auth/verification_cache.h"

namespace onsen::auth {
namespace {

TEST(ConstantTime, KeyEqualComparesEveryByte) {
  VerificationCache::KeyEqual equal;
  VerificationCache::Key a{};
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<unsigned char>(i * 7 + 1);
  VerificationCache::Key b = a;
  EXPECT_TRUE(equal(a, b));
  for (std::size_t i : {std::size_t{0}, std::size_t{15}, a.size() - 1}) {
    VerificationCache::Key c = a;
    c[i] ^= 0x01;
    EXPECT_FALSE(equal(a, c)) << "byte " << i;
  }
}

TEST(ConstantTime, CacheLookupIsKeyedOnTheWholeKey) {
  VerificationCache cache(4);
  auto key = cache.key_for("alice", "pw");
  cache.insert(key, "alice", 1);
  auto last_byte_differs = key;
  last_byte_differs.back() ^= 0x80;  // same hash bucket (KeyHash reads the first bytes)
  EXPECT_EQ(VerificationCache::KeyHash{}(key), VerificationCache::KeyHash{}(last_byte_differs));
  EXPECT_FALSE(cache.lookup(last_byte_differs, 1));
  EXPECT_EQ(cache.lookup(key, 1), "alice");
}

TEST(ConstantTime, BcryptComparesTheWholeHash) {
  const std::string setting = bcrypt_setting(4);
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn("pw", setting.c_str(), data.get(), sizeof(crypt_data));
  ASSERT_NE(out, nullptr);
  const std::string hash = out;
  ASSERT_EQ(hash.size(), 60u);
  EXPECT_TRUE(verify_bcrypt("pw", hash));
  for (std::size_t i : {std::size_t{7}, std::size_t{40}, hash.size() - 1}) {
    std::string changed = hash;
    changed[i] = changed[i] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(verify_bcrypt("pw", changed)) << "character " << i;
  }
  EXPECT_FALSE(verify_bcrypt("pw", hash.substr(0, 59)));
}

}  // namespace
}  // namespace onsen::auth
