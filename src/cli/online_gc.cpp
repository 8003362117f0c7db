#include "cli/online_gc.h"

#include "cli/redis_collector_lock.h"
#include "cli/redis_options.h"
#include "registry/garbage_collector.h"
#include "registry/store_lease.h"
#include "storage/factory.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

namespace onsen::cli {

namespace {

// "<host>:<pid>:<random>": unique among the replicas, and says in a 409 which one collects.
std::string process_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + random_process_id();
}

// One collection by registry::GarbageCollector: writes through the registry's driver stack (so
// its caches, and over Redis the other replicas', drop what goes), reads beneath its read cache.
registry::OnlineCollector::Collect collect_on(registry::Registry& registry) {
  return [&registry](const registry::CollectionRequest& request,
                     const std::function<bool()>& should_stop) {
    registry::GcOptions options;
    options.dry_run = request.dry_run;
    options.delete_untagged = request.delete_untagged;
    options.grace = request.grace;
    options.delete_orphan_referrers = request.delete_referrers;
    options.log = [](std::string_view line) { spdlog::info("garbage collection: {}", line); };
    options.should_stop = should_stop;
    registry::GarbageCollector collector(registry.storage_driver(), std::move(options),
                                         registry.uncached_storage_driver());
    const registry::GcResult result = collector.run();
    registry::CollectionOutcome outcome;
    outcome.manifests_deleted = result.manifests_deleted;
    outcome.blobs_deleted = result.blobs_deleted;
    outcome.bytes_freed = result.bytes_freed;
    outcome.completed = result.completed;
    return outcome;
  };
}

}  // namespace

OnlineGc make_online_gc(const config::Config& cfg, registry::Registry& registry) {
  OnlineGc gc;
  if (cfg.storage.read_only) return gc;
  const std::string owner = process_name();
  if (!cfg.redis.addr.empty()) {
    gc.lock = std::make_unique<RedisCollectorLock>(
        cfg.redis,
        cfg.storage.driver + ":" + storage::location(cfg.storage.driver, cfg.storage.parameters),
        owner);
  } else {
    gc.lock = std::make_unique<registry::StoreLease>(registry.uncached_storage_driver(), owner);
  }
  gc.collector = std::make_unique<registry::OnlineCollector>(
      collect_on(registry), *gc.lock, [](bool warning, const std::string& line) {
        spdlog::log(warning ? spdlog::level::warn : spdlog::level::info, "{}", line);
      });
  if (cfg.storage.gc.interval.count() > 0) {
    gc.scheduler = std::make_unique<GcScheduler>(*gc.collector, cfg.storage.gc);
    spdlog::info("garbage collection every {}s{}, grace {}s{}", cfg.storage.gc.interval.count(),
                 cfg.storage.gc.window ? " inside its window" : "", cfg.storage.gc.grace.count(),
                 cfg.storage.gc.dry_run ? ", dry run" : "");
  }
  return gc;
}

}  // namespace onsen::cli
