// Garbage collection inside `onsen serve` (storage.gc): the collector lock (Redis when `redis:` is
// configured, else a lease object in the store), the OnlineCollector running
// registry::GarbageCollector on the registry's own driver stack, and the schedule. None of it in a
// read-only registry.
#pragma once

#include "cli/gc_scheduler.h"
#include "config/config.h"
#include "registry/collector_lock.h"
#include "registry/online_collector.h"
#include "registry/registry.h"

#include <memory>

namespace onsen::cli {

struct OnlineGc {
  // Destroyed in reverse: the schedule, then the collector (stopping a run between steps), then
  // the lock it holds.
  std::unique_ptr<registry::CollectorLock> lock;
  std::unique_ptr<registry::OnlineCollector> collector;
  std::unique_ptr<GcScheduler> scheduler;
};

// On the registry's storage (its driver stack for writes, the store beneath for reads and the
// lease object); `registry` must outlive the result.
OnlineGc make_online_gc(const config::Config& cfg, registry::Registry& registry);

}  // namespace onsen::cli
