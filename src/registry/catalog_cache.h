// The repository list (GET /v2/_catalog), cached: walking the repositories tree costs one driver
// list() per directory, ~1,000 for 1,000 repositories, far too much for every request.
//
// Freshness:
// - Writes made by this process are seen by the very next get(): the Registry reports a new
//   repository (added) and anything that may have ended one (invalidate: the next get() walks).
// - Writes by other processes sharing the storage are seen within max_age (plus one walk): a get()
//   finding the list older than that walks again. Replicas that share their listing changes
//   (registry/cache_events.h) call added() and invalidate() for each other's writes too, and
//   the age limit only covers what such a channel may lose. While one thread walks for that reason,
//   others keep answering with the previous list; when the list is missing or invalidated, they
//   wait.
//
// Thread-safe.
#pragma once

#include "registry/name_listing.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace onsen::registry {

class CatalogCache {
 public:
  using Clock = std::chrono::steady_clock;
  // Walks the storage; returns every repository name (any order).
  using Walk = std::function<std::vector<std::string>()>;

  CatalogCache(Walk walk, Clock::duration max_age);

  // The sorted repository names. Throws what the walk throws.
  std::shared_ptr<const NameListing> get();
  // `name` is now a repository (after the write that made it one). True unless the current,
  // valid list already holds it: then no other replica needs telling either.
  bool added(const std::string& name);
  // A repository may have stopped being one (after the removal).
  void invalidate();
  // Replaces max_age (shorter while changes from other replicas cannot be trusted to arrive).
  void set_max_age(Clock::duration max_age);
  // get()s answered from the list held, and get()s that walked (metrics).
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<const NameListing> walk_and_publish(std::unique_lock<std::mutex>& lock);

  Walk walk_;
  Clock::duration max_age_;
  std::mutex mutex_;
  std::condition_variable walked_;
  std::shared_ptr<const NameListing> names_;  // null until the first walk
  Clock::time_point walk_started_;            // of the walk names_ came from
  bool invalid_ = false;                      // names_ must not be served
  bool walking_ = false;
  std::vector<std::string> added_while_walking_;
  bool invalidated_while_walking_ = false;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace onsen::registry
