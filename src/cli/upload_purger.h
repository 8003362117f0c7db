// Background upload purging (Distribution's storage.maintenance.uploadpurging): every `interval`
// removes uploads older than `age`. The first pass runs shortly after start, as Distribution's
// does after its jitter, so a restarted registry cleans up without waiting a whole interval.
#pragma once

#include "registry/registry.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

namespace onsen::cli {

class UploadPurger {
 public:
  UploadPurger(registry::Registry& registry, std::chrono::seconds age,
               std::chrono::seconds interval, bool dry_run);
  // Stops the thread (waits for a pass in progress).
  ~UploadPurger();

 private:
  void run(std::stop_token stop);

  registry::Registry& registry_;
  std::chrono::seconds age_;
  std::chrono::seconds interval_;
  bool dry_run_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started after every member it uses
};

}  // namespace onsen::cli
