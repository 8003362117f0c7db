// A latency histogram that many threads update without a lock, read when metrics are scraped:
// fixed bucket bounds, one relaxed atomic count per bucket and an atomic sum in nanoseconds. An
// observation costs a bucket search over 18 integers and two atomic additions, so request and
// storage paths can keep one per label set (prometheus-cpp's Histogram locks a mutex per
// observation). A snapshot reads the atomics one by one: taken while updates run, it may be
// short of the few in flight, as any Prometheus client's.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace onsen::base {

class LatencyHistogram {
 public:
  // Upper bounds in seconds: Prometheus' default buckets (5 ms .. 10 s), with finer ones below
  // where a registry's small requests and storage calls fall (a manifest GET takes ~100 µs), and
  // 30 s / 60 s for large blob transfers and slow object stores.
  static constexpr std::array<double, 18> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                     1,      2.5,     5,      10,    30,     60};
  static constexpr size_t kBuckets = kBounds.size() + 1;  // the last: above every bound (+Inf)

  void observe(std::chrono::nanoseconds d) noexcept {
    const int64_t ns = d.count() < 0 ? 0 : d.count();
    size_t i = 0;
    while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
  }

  struct Snapshot {
    std::array<uint64_t, kBuckets> counts{};  // per bucket, not cumulative; last: +Inf
    uint64_t count = 0;                       // all observations
    double sum_seconds = 0;
  };
  Snapshot snapshot() const noexcept {
    Snapshot s;
    for (size_t i = 0; i < kBuckets; ++i) {
      s.counts[i] = counts_[i].load(std::memory_order_relaxed);
      s.count += s.counts[i];
    }
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  // kBounds in nanoseconds (the same values), so that observe() compares integers.
  static constexpr std::array<int64_t, kBounds.size()> kBoundsNs = {
      100'000,       250'000,       500'000,       1'000'000,      2'500'000,      5'000'000,
      10'000'000,    25'000'000,    50'000'000,    100'000'000,    250'000'000,    500'000'000,
      1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000, 30'000'000'000, 60'000'000'000};

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace onsen::base
