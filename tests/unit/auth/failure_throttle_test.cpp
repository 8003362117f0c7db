// Failure throttling, driven with explicit time points.
#include <gtest/gtest.h>

#include <string>

#include "auth/failure_throttle.h"

namespace onsen::auth {
namespace {

using namespace std::chrono_literals;
using TimePoint = FailureThrottle::TimePoint;

const TimePoint kT0 = TimePoint{} + 1000h;

// Options with these limits and the default window and backoff.
ThrottleOptions limits(std::size_t failures, std::size_t address_failures = 100,
                       std::size_t max_clients = 10000) {
  ThrottleOptions o;
  o.max_failures = failures;
  o.max_address_failures = address_failures;
  o.max_clients = max_clients;
  return o;
}

ThrottleBlock user_block(std::chrono::seconds s) {
  return {s, ThrottleScope::kUser};
}
ThrottleBlock address_block(std::chrono::seconds s) {
  return {s, ThrottleScope::kAddress};
}

// One full failed verification: slot, then failure.
void fail(FailureThrottle& t, std::string_view address, std::string_view user, TimePoint at) {
  ASSERT_FALSE(t.begin(address, user, at));
  t.end(address, user, false, at);
}
void fail_n(FailureThrottle& t, int n, std::string_view address, std::string_view user,
            TimePoint at) {
  for (int i = 0; i < n; ++i) fail(t, address, user, at);
}

TEST(FailureThrottle, DefaultsAreGitLabLike) {
  ThrottleOptions o;
  EXPECT_EQ(o.max_failures, 30u);
  EXPECT_EQ(o.window, 180s);
  EXPECT_EQ(o.max_address_failures, 100u);
}

TEST(FailureThrottle, ThirtiethFailureBlocksThatUserFromThatAddressOnly) {
  FailureThrottle t;
  for (int i = 0; i < 29; ++i) fail(t, "10.0.0.1", "alice", kT0 + i * 1s);
  EXPECT_FALSE(t.blocked("10.0.0.1", "alice", kT0 + 29s));
  fail(t, "10.0.0.1", "alice", kT0 + 29s);
  EXPECT_EQ(t.blocked("10.0.0.1", "alice", kT0 + 29s), user_block(1s));
  EXPECT_EQ(t.begin("10.0.0.1", "alice", kT0 + 29s), user_block(1s));
  // Another user from the same address, and the same user from another address: unaffected.
  EXPECT_FALSE(t.blocked("10.0.0.1", "bob", kT0 + 29s));
  ASSERT_FALSE(t.begin("10.0.0.1", "bob", kT0 + 29s));
  t.end("10.0.0.1", "bob", true, kT0 + 29s);
  EXPECT_FALSE(t.blocked("10.0.0.2", "alice", kT0 + 29s));
  EXPECT_FALSE(t.blocked("10.0.0.1", "alice", kT0 + 30s));  // the first block lasts 1 s
}

TEST(FailureThrottle, UserNamesCannotCollideWithAddresses) {
  FailureThrottle t;
  fail_n(t, 30, "10.0.0.1", "x", kT0);
  EXPECT_FALSE(t.blocked("10.0.0.1", "", kT0));
  EXPECT_FALSE(t.blocked(std::string_view("10.0.0.1\0x", 10), "", kT0));
  EXPECT_TRUE(t.blocked("10.0.0.1", "x", kT0));
}

TEST(FailureThrottle, LongUserNamesShareAKeyByTheirFirst256Bytes) {
  FailureThrottle t(limits(3));
  const std::string prefix(256, 'u');
  for (int i = 0; i < 3; ++i) fail(t, "a", prefix + std::string(4000, char('a' + i)), kT0);
  EXPECT_TRUE(t.blocked("a", prefix + "zzz", kT0));
  EXPECT_FALSE(t.blocked("a", prefix.substr(1), kT0));
}

TEST(FailureThrottle, DistinctUserNamesFromOneAddressAreCappedPerAddress) {
  FailureThrottle t;  // 30 per user, 100 per address
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(t.blocked("10.6.6.6", "random-" + std::to_string(i), kT0)) << i;
    fail(t, "10.6.6.6", "random-" + std::to_string(i), kT0);
  }
  // Every name from that address is blocked now, a new one and a real one alike...
  EXPECT_EQ(t.blocked("10.6.6.6", "random-100", kT0), address_block(1s));
  EXPECT_EQ(t.begin("10.6.6.6", "alice", kT0), address_block(1s));
  // ...and no other address.
  EXPECT_FALSE(t.blocked("10.0.0.1", "random-100", kT0));
}

TEST(FailureThrottle, SuccessDoesNotLaunderTheAddressCount) {
  FailureThrottle t(limits(5, 8));
  fail_n(t, 4, "a", "alice", kT0);
  ASSERT_FALSE(t.begin("a", "mallory", kT0));  // the attacker's own account logs in
  t.end("a", "mallory", true, kT0);
  fail(t, "a", "alice", kT0);  // the fifth: alice's key was not reset either
  EXPECT_EQ(t.blocked("a", "alice", kT0), user_block(1s));
  fail_n(t, 3, "a", "bob", kT0 + 10s);
  EXPECT_EQ(t.blocked("a", "bob", kT0 + 10s), address_block(1s));  // 5 + 3 = 8 for "a"
}

TEST(FailureThrottle, ZeroFailuresTurnsItOff) {
  FailureThrottle t(limits(0));
  fail_n(t, 1000, "a", "alice", kT0);
  EXPECT_FALSE(t.blocked("a", "alice", kT0));
  EXPECT_EQ(t.size(), 0u);
}

TEST(FailureThrottle, ZeroAddressFailuresDropsOnlyTheAddressCap) {
  FailureThrottle t(limits(3, 0));
  for (int i = 0; i < 500; ++i) fail(t, "a", "u" + std::to_string(i), kT0);
  EXPECT_FALSE(t.blocked("a", "u500", kT0));
  fail_n(t, 3, "a", "alice", kT0);
  EXPECT_TRUE(t.blocked("a", "alice", kT0));
}

TEST(FailureThrottle, BackoffDoublesUpToTheCap) {
  FailureThrottle t(limits(5));
  TimePoint now = kT0;
  fail_n(t, 5, "c", "u", now);
  std::chrono::seconds expected = 1s;
  for (int round = 0; round < 10; ++round) {
    ASSERT_EQ(t.blocked("c", "u", now), user_block(expected)) << round;
    EXPECT_EQ(t.blocked("c", "u", now + expected - 1ms), user_block(1s));  // rounded up, never 0
    now += expected;                                                       // waits it out...
    ASSERT_FALSE(t.blocked("c", "u", now));
    fail(t, "c", "u", now);  // ...and fails once more
    expected = std::min(expected * 2, std::chrono::seconds(60));
  }
  EXPECT_EQ(t.blocked("c", "u", now), user_block(60s));
}

TEST(FailureThrottle, RetryAfterIsRoundedUp) {
  FailureThrottle t(limits(5));
  fail_n(t, 5, "c", "u", kT0);
  EXPECT_EQ(t.blocked("c", "u", kT0 + 1ms), user_block(1s));
  for (int i = 0; i < 2; ++i) {  // 2 s, then 4 s
    fail(t, "c", "u", kT0 + 10s * (i + 1));
  }
  EXPECT_EQ(t.blocked("c", "u", kT0 + 20s + 1500ms), user_block(3s));  // 2.5 s left
}

TEST(FailureThrottle, SuccessResetsTheUserKey) {
  FailureThrottle t(limits(5));
  fail_n(t, 5, "c", "u", kT0);
  ASSERT_TRUE(t.blocked("c", "u", kT0));
  ASSERT_FALSE(t.begin("c", "u", kT0 + 1s));
  t.end("c", "u", true, kT0 + 1s);
  fail_n(t, 4, "c", "u", kT0 + 2s);  // counting starts again from zero
  EXPECT_FALSE(t.blocked("c", "u", kT0 + 2s));
  t.record_success("c", "u");  // a success shared with a concurrent verification resets too
  fail_n(t, 4, "c", "u", kT0 + 3s);
  EXPECT_FALSE(t.blocked("c", "u", kT0 + 3s));
}

TEST(FailureThrottle, FailuresSlideOutOfTheWindow) {
  FailureThrottle t;  // 30 in 3 minutes
  fail_n(t, 29, "c", "u", kT0);
  fail(t, "c", "u", kT0 + 180s);  // the first 29 are a window old
  EXPECT_FALSE(t.blocked("c", "u", kT0 + 180s));
  fail_n(t, 28, "c", "u", kT0 + 181s);
  EXPECT_FALSE(t.blocked("c", "u", kT0 + 181s));
  fail(t, "c", "u", kT0 + 182s);
  EXPECT_TRUE(t.blocked("c", "u", kT0 + 182s));
}

TEST(FailureThrottle, QuietKeyIsForgotten) {
  FailureThrottle t(limits(5));
  TimePoint now = kT0;
  fail_n(t, 5, "c", "u", now);
  for (int i = 0; i < 3; ++i) {
    now += t.blocked("c", "u", now)->retry_after;
    fail(t, "c", "u", now);
  }
  ASSERT_EQ(t.blocked("c", "u", now), user_block(8s));
  now += 8s + 180s;  // block over, then a whole quiet window
  fail(t, "c", "u", now);
  EXPECT_FALSE(t.blocked("c", "u", now));  // a fresh start: one failure on record
}

TEST(FailureThrottle, ParallelRequestsOfAClientAreNotRefused) {
  FailureThrottle t;
  // docker, podman and ctr open several connections at once: ten parallel wrong passwords.
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(t.begin("c", "alice", kT0)) << i;
  for (int i = 0; i < 10; ++i) t.end("c", "alice", false, kT0);
  EXPECT_FALSE(t.blocked("c", "alice", kT0));
  ASSERT_FALSE(t.begin("c", "alice", kT0));  // and the right password right after
  t.end("c", "alice", true, kT0);
}

TEST(FailureThrottle, ParallelGuessesCannotOutrunTheCount) {
  FailureThrottle t(limits(5));
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(t.begin("c", "u", kT0));
  EXPECT_EQ(t.begin("c", "u", kT0), user_block(1s));  // a sixth concurrent one is refused
  t.end("c", "u", false, kT0);
  EXPECT_EQ(t.begin("c", "u", kT0), user_block(1s));  // 1 failure + 4 in flight
  for (int i = 0; i < 4; ++i) t.end("c", "u", false, kT0);
  EXPECT_EQ(t.blocked("c", "u", kT0), user_block(1s));
  // In backoff, one attempt at a time.
  ASSERT_FALSE(t.begin("c", "u", kT0 + 1s));
  EXPECT_EQ(t.begin("c", "u", kT0 + 1s), user_block(1s));
  t.end("c", "u", false, kT0 + 1s);
  EXPECT_EQ(t.blocked("c", "u", kT0 + 1s), user_block(2s));
  // The per-address count is bounded the same way across user names.
  FailureThrottle a(limits(5, 6));
  for (int i = 0; i < 6; ++i) ASSERT_FALSE(a.begin("c", "u" + std::to_string(i), kT0));
  EXPECT_EQ(a.begin("c", "u6", kT0), address_block(1s));
}

TEST(FailureThrottle, TablesAreBounded) {
  FailureThrottle t(limits(5, 100, 3));
  for (int i = 0; i < 100; ++i) {
    fail(t, "client-" + std::to_string(i), "u", kT0 + std::chrono::seconds(i));
    EXPECT_LE(t.size(), 6u);  // 3 per table
  }
  // The most recent offenders are the ones kept.
  fail_n(t, 4, "client-99", "u", kT0 + 100s);  // 1 + 4
  EXPECT_TRUE(t.blocked("client-99", "u", kT0 + 100s));
  EXPECT_LE(t.size(), 6u);
}

TEST(FailureThrottle, StaleEntriesAreSweptWhenFull) {
  FailureThrottle t(limits(5, 100, 2));
  fail(t, "old-1", "u", kT0);
  fail(t, "old-2", "u", kT0);
  fail_n(t, 5, "new", "u", kT0 + 400s);  // both old entries are stale by now
  EXPECT_TRUE(t.blocked("new", "u", kT0 + 400s));
  EXPECT_EQ(t.size(), 2u);  // "new" in each table
}

}  // namespace
}  // namespace onsen::auth
