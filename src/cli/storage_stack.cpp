#include "cli/storage_stack.h"

#include "cli/metrics_exporter.h"
#include "cli/quotas.h"
#include "storage/factory.h"

namespace onsen::cli {

StorageStack open_storage(const config::Config& cfg, bool usage) {
  StorageStack stack;
  std::shared_ptr<storage::Driver> driver =
      storage::make_driver(cfg.storage.driver, cfg.storage.parameters);
  // Metered below the registry's caches: it counts what reaches the storage. (The offline
  // commands open it so too; nothing reads their meter.)
  if (metrics_enabled(cfg)) {
    driver = stack.metered = std::make_shared<storage::MeteredDriver>(driver);
  }
  // Replicas on one storage tell each other their listing changes through Redis.
  if (!cfg.redis.addr.empty()) {
    stack.listing_changes = std::make_unique<RedisListingChanges>(
        cfg.redis,
        cfg.storage.driver + ":" + storage::location(cfg.storage.driver, cfg.storage.parameters));
  }
  registry::RegistryOptions options;
  if (usage) stack.usage = std::make_unique<registry::UsageIndex>(driver, quotas_of(cfg));
  options.usage = stack.usage.get();
  options.listing_changes = stack.listing_changes.get();
  options.delete_enabled = cfg.storage.delete_enabled;
  options.read_only = cfg.storage.read_only;
  options.automatic_cross_mount = cfg.http.automatic_cross_mount;
  if (!cfg.storage.blob_descriptor_cache.empty()) {
    options.read_cache_entries = cfg.storage.blob_descriptor_cache_size;
  }
  stack.registry = std::make_unique<registry::Registry>(std::move(driver), options);
  return stack;
}

}  // namespace onsen::cli
