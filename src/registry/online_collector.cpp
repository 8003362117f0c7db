#include "registry/online_collector.h"

#include <fmt/format.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <stdexcept>

namespace onsen::registry {

namespace {

// The collection's threads (this one and those it starts, which inherit a thread's scheduling
// policy on Linux) run under SCHED_IDLE: they get a core only when no request's thread wants it.
// Nice 19 was not enough: on 2 cores the collector's 8 readers still delayed a manifest GET's
// wakeup by a time slice now and then (`make bench`, group gc: manifest GET p99 during a
// collection 8-9x idle). Where SCHED_IDLE is refused, nice 19.
void yield_cpu_to_requests() {
  // Not fatal: a collection at normal priority is only slower for the others.
  struct sched_param param {};
  if (sched_setscheduler(0, SCHED_IDLE, &param) != 0) {
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
  }
}

std::string describe(const CollectionRequest& r) {
  return fmt::format("grace {}s{}{}{}", r.grace.count(), r.dry_run ? ", dry run" : "",
                     r.delete_untagged ? ", deleting untagged manifests" : "",
                     r.delete_referrers ? "" : ", keeping orphaned referrers");
}

}  // namespace

OnlineCollector::OnlineCollector(Collect collect, CollectorLock& lock, Log log, LeaseTiming timing)
    : collect_(std::move(collect)), lock_(lock), log_(std::move(log)), timing_(timing) {}

OnlineCollector::~OnlineCollector() {
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  idle_.notify_all();
  if (thread_.joinable()) thread_.join();
}

OnlineCollector::Started OnlineCollector::start(CollectionRequest request) {
  std::unique_lock guard(mutex_);
  if (running_) return {Start::kRunningHere, status_.runs, {}};
  if (stopping_) throw std::runtime_error("the server is stopping");
  // Marked running before the lock is asked (unlocked meanwhile: the store or Redis may take a
  // while), so that a second request here answers at once instead of racing for the lease.
  running_ = true;
  guard.unlock();
  bool acquired = false;
  std::string holder;
  try {
    acquired = lock_.acquire(timing_.lease);
    if (!acquired) holder = lock_.holder();
  } catch (...) {
    guard.lock();
    running_ = false;
    idle_.notify_all();
    throw;
  }
  guard.lock();
  if (!acquired) {
    running_ = false;
    idle_.notify_all();
    return {Start::kRunningElsewhere, 0, holder};
  }
  if (thread_.joinable()) thread_.join();  // the previous run's thread, finished
  CollectionRecord record;
  record.run = ++status_.runs;
  record.request = std::move(request);
  record.started = std::chrono::system_clock::now();
  status_.running = true;
  status_.current = record;
  thread_ = std::thread([this, record] {
    yield_cpu_to_requests();
    run(record);
  });
  return {Start::kStarted, record.run, {}};
}

void OnlineCollector::run(CollectionRecord record) {
  log_(false, fmt::format("garbage collection {} started ({}, {})", record.run,
                          record.request.trigger, describe(record.request)));
  std::atomic<bool> lost{false};
  std::mutex renew_mutex;
  std::condition_variable renew_wake;
  bool done = false;
  // Renews the lease while the collection runs; a lease it cannot renew (taken over after an
  // expiry, or its keeper unreachable past the lease) stops the collection at the next step,
  // since another replica may be collecting by then.
  std::thread renewer([&] {
    auto last_renewed = std::chrono::steady_clock::now();
    std::unique_lock guard(renew_mutex);
    while (!renew_wake.wait_for(guard, timing_.renew_every, [&] { return done; })) {
      guard.unlock();
      bool renewed = false, lease_may_hold = false;
      std::string why = "taken by another replica";
      try {
        renewed = lock_.renew(timing_.lease);
      } catch (const std::exception& e) {
        why = e.what();
        // A blip: the lease still holds until it expires; give up when it may have by the next
        // attempt.
        lease_may_hold =
            std::chrono::steady_clock::now() - last_renewed < timing_.lease - timing_.renew_every;
      }
      if (renewed) {
        last_renewed = std::chrono::steady_clock::now();
      } else if (!lease_may_hold) {
        lost = true;
        log_(true, fmt::format("garbage collection {}: collector lock lost ({}), stopping",
                               record.run, why));
        guard.lock();
        return;
      }
      guard.lock();
    }
  });
  auto should_stop = [&] {
    if (lost) return true;
    if (record.request.deadline && std::chrono::system_clock::now() >= *record.request.deadline) {
      return true;
    }
    std::lock_guard guard(mutex_);
    return stopping_;
  };
  auto begin = std::chrono::steady_clock::now();
  try {
    record.outcome = collect_(record.request, should_stop);
  } catch (const std::exception& e) {
    record.error = e.what();
    record.outcome.completed = false;
  }
  record.duration = std::chrono::steady_clock::now() - begin;
  {
    std::lock_guard guard(renew_mutex);
    done = true;
  }
  renew_wake.notify_all();
  renewer.join();
  const CollectionOutcome& o = record.outcome;
  if (!record.error.empty()) {
    log_(true, fmt::format("garbage collection {} failed after {:.1f}s: {}", record.run,
                           record.duration.count(), record.error));
  } else {
    log_(false,
         fmt::format(
             "garbage collection {} {} in {:.1f}s: {} manifests and {} blobs {}, {} bytes{}",
             record.run, o.completed ? "finished" : "stopped early", record.duration.count(),
             o.manifests_deleted, o.blobs_deleted, record.request.dry_run ? "eligible" : "deleted",
             o.bytes_freed, record.request.dry_run ? " would be freed" : " freed"));
  }
  // Released after the run is logged: every replica's log then shows collections one after
  // the other, never a next one started before this one says it ended.
  if (!lost) {
    try {
      lock_.release();
    } catch (const std::exception& e) {
      log_(true, fmt::format("garbage collection {}: releasing the collector lock failed ({}); it "
                             "expires by itself",
                             record.run, e.what()));
    }
  }
  std::lock_guard guard(mutex_);
  if (!record.request.dry_run) {
    status_.manifests_deleted += o.manifests_deleted;
    status_.blobs_deleted += o.blobs_deleted;
    status_.bytes_freed += o.bytes_freed;
  }
  status_.last = std::move(record);
  status_.current.reset();
  status_.running = false;
  running_ = false;
  idle_.notify_all();
}

CollectorStatus OnlineCollector::status() const {
  std::lock_guard guard(mutex_);
  return status_;
}

void OnlineCollector::wait_idle() {
  std::unique_lock guard(mutex_);
  idle_.wait(guard, [&] { return !running_; });
}

}  // namespace onsen::registry
