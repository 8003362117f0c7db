// The storage as `onsen serve` opens it: the driver the configuration names, the Redis channel of
// listing changes when `redis:` is configured, and the Registry on them (with its caches and
// their invalidation). Every command that writes to the store (serve, garbage-collect, repository
// delete) opens it so, so that the caches of running replicas hear of its writes.
#pragma once

#include "cli/listing_changes.h"
#include "config/config.h"
#include "registry/registry.h"
#include "storage/metered_driver.h"

#include <memory>

namespace onsen::cli {

struct StorageStack {
  // Declared first, destroyed last: the registry publishes through it. Its destruction sends
  // what is still queued (unless Redis is unreachable).
  std::unique_ptr<RedisListingChanges> listing_changes;
  // With `usage` only (serve): the storage usage index and quotas (not started; the registry
  // tells it its writes).
  std::unique_ptr<registry::UsageIndex> usage;
  std::unique_ptr<registry::Registry> registry;
  // With metrics (metrics_enabled): the meter right above the configured driver, below the
  // registry's caches.
  std::shared_ptr<storage::MeteredDriver> metered;
};

// Throws what the driver's construction throws (storage::Error, std::exception).
StorageStack open_storage(const config::Config& cfg, bool usage = false);

}  // namespace onsen::cli
