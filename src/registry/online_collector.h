// Garbage collection inside the running server: runs one collection at a time on its own thread,
// on demand (the admin endpoint) or on a schedule (cli/gc_scheduler.h), each under the collector
// lock shared by the replicas (registry/collector_lock.h), renewed while it runs; keeps the
// figures /debug/vars and GET /admin/gc report. What one collection does is the Collect function
// given (registry::GarbageCollector on the registry's own driver stack, so that its deletes
// invalidate the caches here and, through Redis, on the other replicas).
#pragma once

#include "registry/collector_lock.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace onsen::registry {

// What one collection is asked to do.
struct CollectionRequest {
  bool dry_run = false;
  bool delete_untagged = false;
  bool delete_referrers = true;
  std::chrono::seconds grace{3600};
  // Stops between steps from then on (the schedule's window closing); none: runs to the end.
  std::optional<std::chrono::system_clock::time_point> deadline;
  std::string trigger = "admin";  // "admin" | "schedule", for the log
};

// What it did.
struct CollectionOutcome {
  uint64_t manifests_deleted = 0;
  uint64_t blobs_deleted = 0;
  uint64_t bytes_freed = 0;
  bool completed = false;  // false: stopped early (deadline, shutdown, lock lost) or failed
};

struct CollectionRecord {
  uint64_t run = 0;
  CollectionRequest request;
  std::chrono::system_clock::time_point started;
  std::chrono::duration<double> duration{0};
  CollectionOutcome outcome;
  std::string error;  // set when it failed
};

struct CollectorStatus {
  bool running = false;
  uint64_t runs = 0;                        // collections started by this process
  std::optional<CollectionRecord> current;  // while running: the run (no outcome yet)
  std::optional<CollectionRecord> last;     // the last finished run
  // Totals over this process's runs (dry runs count nothing).
  uint64_t manifests_deleted = 0;
  uint64_t blobs_deleted = 0;
  uint64_t bytes_freed = 0;
};

// The collector lock's lease length and how often it is renewed while a collection runs
// (docs/ARCHITECTURE.md states what the defaults guarantee).
struct LeaseTiming {
  std::chrono::milliseconds lease{30000};
  std::chrono::milliseconds renew_every{10000};
};

class OnlineCollector {
 public:
  // `should_stop` is true once the collection must end between steps; the function returns what
  // was done by then. Throws on a failure (the run is recorded with its message).
  using Collect = std::function<CollectionOutcome(const CollectionRequest& request,
                                                  const std::function<bool()>& should_stop)>;


  // Where the lines about each run go (its start, its result; as warnings a failure or a lost
  // lock): the server's log.
  using Log = std::function<void(bool warning, const std::string& line)>;

  // `lock` must outlive this.
  OnlineCollector(Collect collect, CollectorLock& lock, Log log, LeaseTiming timing = {});
  // Stops a collection in progress between steps and waits for it.
  ~OnlineCollector();

  enum class Start { kStarted, kRunningHere, kRunningElsewhere };
  struct Started {
    Start result;
    uint64_t run = 0;    // kStarted: its number
    std::string holder;  // kRunningElsewhere: the lock holder's name, if known
  };
  // Takes the lock and starts a collection on the collector's thread; returns at once after. Blocks
  // on the lock's keeper (a store read and write, or a Redis round trip), so not on an I/O thread.
  // Throws when the lock cannot be asked (nothing started).
  Started start(CollectionRequest request);
  CollectorStatus status() const;
  // Waits until no collection runs here (tests, shutdown).
  void wait_idle();

 private:
  void run(CollectionRecord record);

  Collect collect_;
  CollectorLock& lock_;
  Log log_;
  LeaseTiming timing_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  bool running_ = false;
  bool stopping_ = false;
  CollectorStatus status_;
  std::thread thread_;  // the last collection's; joined before the next starts
};

}  // namespace onsen::registry
