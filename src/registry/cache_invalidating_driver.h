// A storage driver wrapper that keeps the listing caches (CatalogCache, TagListCache) in step with
// every write the Registry makes: each completed put, move, writer open and removal is mapped from
// its key (Distribution's layout, storage/layout.h) to the repository it touches.
//
// Invalidating from the keys, below all the stores, rather than from each Registry operation
// means no write path can forget to: blob links made when an upload finishes or a blob is
// mounted, manifest revisions, tags, removals. Reads pass straight through (ForwardingDriver).
//
// With a ListingChangePublisher, each change is also published for the other replicas sharing the
// storage (registry/cache_events.h).
//
// Thread-safe when the wrapped driver is.
#pragma once

#include "registry/cache_events.h"
#include "registry/catalog_cache.h"
#include "registry/tag_list_cache.h"
#include "storage/forwarding_driver.h"

#include <memory>
#include <string>

namespace onsen::registry {

class CacheInvalidatingDriver final : public storage::ForwardingDriver {
 public:
  CacheInvalidatingDriver(std::shared_ptr<storage::Driver> driver, CatalogCache& catalog,
                          TagListCache& tag_lists, ListingChangePublisher* publisher);

  void put_content(const std::string& key, std::string_view content) override;
  void put_content_volatile(const std::string& key, std::string_view content) override;
  std::unique_ptr<storage::Writer> writer(const std::string& key, bool append) override;
  std::unique_ptr<storage::Writer> append_writer(const std::string& key) override;
  void move(const std::string& from, const std::string& to) override;
  bool remove(const std::string& key) override;

 private:
  // After an object was stored at key.
  void stored(const std::string& key);
  // After the object or subtree at key was removed.
  void removed(const std::string& key);
  void publish(ListingChange::Kind kind, std::string_view repository);

  CatalogCache& catalog_;
  TagListCache& tag_lists_;
  ListingChangePublisher* publisher_;  // may be null: no other replicas to tell
};

}  // namespace onsen::registry
