// The cache of verifications: successes and refusals.
#include <gtest/gtest.h>

#include "auth/verification_cache.h"

namespace onsen::auth {
namespace {

TEST(VerificationCache, KeysAreKeyedHmacsOfUserAndPassword) {
  VerificationCache cache(10);
  EXPECT_EQ(cache.key_for("alice", "pw"), cache.key_for("alice", "pw"));
  EXPECT_NE(cache.key_for("alice", "pw"), cache.key_for("alice", "pw2"));
  EXPECT_NE(cache.key_for("alice", "pw"), cache.key_for("bob", "pw"));
  EXPECT_NE(cache.key_for("ab", "c"), cache.key_for("a", "bc"));  // the '\0' separates them
  VerificationCache other(10);                                    // another process-random secret
  EXPECT_NE(cache.key_for("alice", "pw"), other.key_for("alice", "pw"));
}

TEST(VerificationCache, LookupMatchesGeneration) {
  VerificationCache cache(10);
  auto key = cache.key_for("alice", "pw");
  EXPECT_FALSE(cache.lookup(key, 1));
  cache.insert(key, "alice", 1);
  EXPECT_EQ(cache.lookup(key, 1), "alice");
  EXPECT_FALSE(cache.lookup(key, 2));  // verified against an older file
  EXPECT_FALSE(cache.lookup(cache.key_for("alice", "other"), 1));
  cache.clear();
  EXPECT_FALSE(cache.lookup(key, 1));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(VerificationCache, BoundedOldestEvicted) {
  VerificationCache cache(3);
  for (int i = 0; i < 10; ++i) {
    cache.insert(cache.key_for("u" + std::to_string(i), "pw"), "u" + std::to_string(i), 1);
    EXPECT_LE(cache.size(), 3u);
  }
  EXPECT_FALSE(cache.lookup(cache.key_for("u6", "pw"), 1));
  for (int i = 7; i < 10; ++i) {
    EXPECT_TRUE(cache.lookup(cache.key_for("u" + std::to_string(i), "pw"), 1));
  }
  cache.insert(cache.key_for("u9", "pw"), "u9", 2);  // re-insert replaces, no growth
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.lookup(cache.key_for("u9", "pw"), 2));
}

TEST(VerificationCache, RefusalsAreKeptApartFromSuccesses) {
  VerificationCache cache(3);
  auto good = cache.key_for("alice", "pw");
  cache.insert(good, "alice", 1);
  auto wrong = cache.key_for("alice", "typo");
  cache.insert_refused(wrong, 1);
  EXPECT_TRUE(cache.refused(wrong, 1));
  EXPECT_FALSE(cache.refused(wrong, 2));  // refused under an older file
  EXPECT_FALSE(cache.lookup(wrong, 1));
  EXPECT_FALSE(cache.refused(good, 1));
  // A flood of wrong passwords evicts older refusals, never the verified credentials.
  for (int i = 0; i < 100; ++i) cache.insert_refused(cache.key_for("x", std::to_string(i)), 1);
  EXPECT_EQ(cache.lookup(good, 1), "alice");
  EXPECT_FALSE(cache.refused(wrong, 1));
  EXPECT_EQ(cache.size(), 4u);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace onsen::auth
