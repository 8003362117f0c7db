#include "cli/storage_stack.h"

#include "storage/factory.h"

namespace onsen::cli {

StorageStack open_storage(const config::Config& cfg) {
  StorageStack stack;
  auto driver = storage::make_driver(cfg.storage.driver, cfg.storage.parameters);
  // Replicas on one storage tell each other their listing changes through Redis.
  if (!cfg.redis.addr.empty()) {
    stack.listing_changes = std::make_unique<RedisListingChanges>(
        cfg.redis,
        cfg.storage.driver + ":" + storage::location(cfg.storage.driver, cfg.storage.parameters));
  }
  registry::RegistryOptions options;
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
