// base::LatencyHistogram: each observation lands in the first bucket whose bound it does not
// exceed (Prometheus' `le`: a bound is inclusive), beyond the last in +Inf; the count and the sum
// add up.
#include <gtest/gtest.h>

#include "base/latency_histogram.h"

#include <chrono>

namespace onsen::base {
namespace {

using namespace std::chrono_literals;

TEST(LatencyHistogram, BoundsAreInclusiveAndTheRestIsInfinity) {
  LatencyHistogram h;
  h.observe(0ns);
  h.observe(100us);  // exactly the first bound: le="0.0001"
  h.observe(101us);  // the second bucket
  h.observe(60s);    // the last bound
  h.observe(61s);    // +Inf
  h.observe(-5ns);   // a clock going backwards counts as 0
  const auto s = h.snapshot();
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(s.counts[0], 3u);
  EXPECT_EQ(s.counts[1], 1u);
  EXPECT_EQ(s.counts[LatencyHistogram::kBounds.size() - 1], 1u);
  EXPECT_EQ(s.counts[LatencyHistogram::kBounds.size()], 1u);
  EXPECT_NEAR(s.sum_seconds, 0.0001 + 0.000101 + 60 + 61, 1e-9);
}

}  // namespace
}  // namespace onsen::base
