#include "cli/online_gc.h"

#include "cli/redis_collector_lock.h"
#include "cli/redis_options.h"
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

registry::OnlineCollector::Collect collect_on(std::shared_ptr<storage::Driver> writes,
                                              std::shared_ptr<storage::Driver> reads) {
  (void)writes;
  (void)reads;
  return [](const registry::CollectionRequest&,
            const std::function<bool()>&) -> registry::CollectionOutcome {
    throw std::runtime_error("the garbage collector is not in this build yet");
  };
}

}  // namespace

registry::CollectionRequest collection_defaults(const config::GcConfig& gc) {
  registry::CollectionRequest request;
  request.dry_run = gc.dry_run;
  request.delete_untagged = gc.delete_untagged;
  request.delete_referrers = gc.delete_referrers;
  request.grace = gc.grace;
  return request;
}

OnlineGc make_online_gc(const config::Config& cfg, std::shared_ptr<storage::Driver> store,
                        registry::Registry& registry) {
  OnlineGc gc;
  if (cfg.storage.read_only) return gc;
  const std::string owner = process_name();
  if (!cfg.redis.addr.empty()) {
    gc.lock = std::make_unique<RedisCollectorLock>(
        cfg.redis,
        cfg.storage.driver + ":" + storage::location(cfg.storage.driver, cfg.storage.parameters),
        owner);
  } else {
    gc.lock = std::make_unique<registry::StoreLease>(store, owner);
  }
  gc.collector = std::make_unique<registry::OnlineCollector>(
      collect_on(registry.storage(), store), *gc.lock, [](bool warning, const std::string& line) {
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
