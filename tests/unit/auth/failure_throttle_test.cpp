// Failure throttling, driven with explicit time points.
#include <gtest/gtest.h>

#include <string>

#include "auth/failure_throttle.h"

namespace onsen::auth {
namespace {

using namespace std::chrono_literals;
using TimePoint = FailureThrottle::TimePoint;

const TimePoint kT0 = TimePoint{} + 1000h;

// One full failed verification: slot, then failure.
void fail(FailureThrottle& t, std::string_view client, TimePoint at) {
  ASSERT_FALSE(t.begin(client, at));
  t.end(client, false, at);
}

TEST(FailureThrottle, FifthFailureBlocksThatClientOnly) {
  FailureThrottle t;
  for (int i = 0; i < 4; ++i) fail(t, "10.0.0.1", kT0 + i * 1s);
  EXPECT_FALSE(t.blocked("10.0.0.1", kT0 + 4s));
  fail(t, "10.0.0.1", kT0 + 4s);
  EXPECT_EQ(t.blocked("10.0.0.1", kT0 + 4s), 1s);
  EXPECT_EQ(t.begin("10.0.0.1", kT0 + 4s), 1s);
  EXPECT_FALSE(t.blocked("10.0.0.2", kT0 + 4s));
  EXPECT_FALSE(t.begin("10.0.0.2", kT0 + 4s));
  t.end("10.0.0.2", true, kT0 + 4s);
  EXPECT_FALSE(t.blocked("10.0.0.1", kT0 + 5s));  // the first block lasts 1 s
}

TEST(FailureThrottle, BackoffDoublesUpToTheCap) {
  FailureThrottle t;
  TimePoint now = kT0;
  for (int i = 0; i < 5; ++i) fail(t, "c", now);
  std::chrono::seconds expected = 1s;
  for (int round = 0; round < 10; ++round) {
    ASSERT_EQ(t.blocked("c", now), expected) << round;
    EXPECT_EQ(t.blocked("c", now + expected - 1ms), 1s);  // rounded up, never 0
    now += expected;                                      // waits it out...
    ASSERT_FALSE(t.blocked("c", now));
    fail(t, "c", now);  // ...and fails once more
    expected = std::min(expected * 2, std::chrono::seconds(60));
  }
  EXPECT_EQ(t.blocked("c", now), 60s);
}

TEST(FailureThrottle, RetryAfterIsRoundedUp) {
  FailureThrottle t;
  for (int i = 0; i < 5; ++i) fail(t, "c", kT0);
  EXPECT_EQ(t.blocked("c", kT0 + 1ms), 1s);
  for (int i = 0; i < 2; ++i) {  // 2 s, then 4 s
    fail(t, "c", kT0 + 10s * (i + 1));
  }
  EXPECT_EQ(t.blocked("c", kT0 + 20s + 1500ms), 3s);  // 2.5 s left
}

TEST(FailureThrottle, SuccessResets) {
  FailureThrottle t;
  for (int i = 0; i < 5; ++i) fail(t, "c", kT0);
  ASSERT_TRUE(t.blocked("c", kT0));
  ASSERT_FALSE(t.begin("c", kT0 + 1s));
  t.end("c", true, kT0 + 1s);
  EXPECT_EQ(t.size(), 0u);
  for (int i = 0; i < 4; ++i) fail(t, "c", kT0 + 2s);  // counting starts again from zero
  EXPECT_FALSE(t.blocked("c", kT0 + 2s));
  t.record("c", true, kT0 + 3s);  // a cache hit resets too
  EXPECT_EQ(t.size(), 0u);
}

TEST(FailureThrottle, FailuresSlideOutOfTheWindow) {
  FailureThrottle t;
  for (int i = 0; i < 4; ++i) fail(t, "c", kT0);
  fail(t, "c", kT0 + 60s);  // the first four are a window old
  EXPECT_FALSE(t.blocked("c", kT0 + 60s));
  for (int i = 0; i < 3; ++i) fail(t, "c", kT0 + 61s);
  EXPECT_FALSE(t.blocked("c", kT0 + 61s));
  fail(t, "c", kT0 + 62s);
  EXPECT_TRUE(t.blocked("c", kT0 + 62s));
}

TEST(FailureThrottle, QuietClientIsForgotten) {
  FailureThrottle t;
  TimePoint now = kT0;
  for (int i = 0; i < 5; ++i) fail(t, "c", now);
  for (int i = 0; i < 3; ++i) {
    now += *t.blocked("c", now);
    fail(t, "c", now);
  }
  ASSERT_EQ(t.blocked("c", now), 8s);
  now += 8s + 60s;  // block over, then a whole quiet window
  fail(t, "c", now);
  EXPECT_FALSE(t.blocked("c", now));  // a fresh start: one failure on record
}

TEST(FailureThrottle, ParallelGuessesCannotOutrunTheCount) {
  FailureThrottle t;
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(t.begin("c", kT0));
  EXPECT_EQ(t.begin("c", kT0), 1s);  // a sixth concurrent verification is refused
  t.end("c", false, kT0);
  EXPECT_EQ(t.begin("c", kT0), 1s);  // 1 failure + 4 in flight
  for (int i = 0; i < 4; ++i) t.end("c", false, kT0);
  EXPECT_EQ(t.blocked("c", kT0), 1s);
  // In backoff, one attempt at a time.
  ASSERT_FALSE(t.begin("c", kT0 + 1s));
  EXPECT_EQ(t.begin("c", kT0 + 1s), 1s);
  t.end("c", false, kT0 + 1s);
  EXPECT_EQ(t.blocked("c", kT0 + 1s), 2s);
  // Successes in flight release their slot.
  ASSERT_FALSE(t.begin("d", kT0));
  t.end("d", true, kT0);
  EXPECT_EQ(t.size(), 1u);  // only "c"
}

TEST(FailureThrottle, TableIsBounded) {
  ThrottleOptions options;
  options.max_clients = 3;
  FailureThrottle t(options);
  for (int i = 0; i < 100; ++i) {
    fail(t, "client-" + std::to_string(i), kT0 + std::chrono::seconds(i));
    EXPECT_LE(t.size(), 3u);
  }
  // The most recent offenders are the ones kept.
  for (int i = 0; i < 4; ++i) fail(t, "client-99", kT0 + 100s);  // 1 + 4
  EXPECT_TRUE(t.blocked("client-99", kT0 + 100s));
  EXPECT_LE(t.size(), 3u);
}

TEST(FailureThrottle, StaleEntriesAreSweptWhenFull) {
  ThrottleOptions options;
  options.max_clients = 2;
  FailureThrottle t(options);
  fail(t, "old-1", kT0);
  fail(t, "old-2", kT0);
  for (int i = 0; i < 5; ++i) fail(t, "new", kT0 + 120s);  // both old entries are stale by now
  EXPECT_TRUE(t.blocked("new", kT0 + 120s));
  EXPECT_EQ(t.size(), 1u);
}

}  // namespace
}  // namespace onsen::auth
