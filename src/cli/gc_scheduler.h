// Scheduled garbage collection (storage.gc.interval, storage.gc.window): every `interval` starts
// a collection on the OnlineCollector, when the daily window (if any) is open, with the deadline
// of its closing; a collection still running then (here, or on another replica: the collector
// lock) is not doubled, the next tick tries again. The first run comes one interval after start,
// so that a fleet restarted at once does not collect at once.
#pragma once

#include "config/config.h"
#include "registry/online_collector.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

namespace onsen::cli {

// Where a moment stands with respect to a daily window of local time (storage.gc.window: start
// and end minutes since midnight; end < start spans midnight).
struct WindowPosition {
  bool open = false;
  std::chrono::system_clock::time_point closes;  // when open: the end of this opening
};
WindowPosition window_position(std::pair<int, int> window, std::chrono::system_clock::time_point t);

// A collection as the storage.gc keys ask for it: what the schedule runs, and what POST
// /admin/gc runs unless its query says otherwise.
registry::CollectionRequest collection_defaults(const config::GcConfig& gc);

class GcScheduler {
 public:
  GcScheduler(registry::OnlineCollector& collector, const config::GcConfig& config);
  ~GcScheduler();

 private:
  void run(std::stop_token stop);
  void tick();

  registry::OnlineCollector& collector_;
  config::GcConfig config_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started after every member it uses
};

}  // namespace onsen::cli
