// A storage driver wrapper that keeps the listing caches (CatalogCache, TagListCache) in step with
// every write the Registry makes: each completed put, move, writer open and removal is mapped from
// its key (Distribution's layout, storage/layout.h) to the repository it touches.
//
// Invalidating from the keys, below all the stores, rather than from each Registry operation
// means no write path can forget to: blob links made when an upload finishes or a blob is
// mounted, manifest revisions, tags, removals. Reads pass straight through (ForwardingDriver).
//
// Thread-safe when the wrapped driver is.
#pragma once

#include "registry/catalog_cache.h"
#include "registry/tag_list_cache.h"
#include "storage/forwarding_driver.h"

#include <memory>
#include <string>

namespace onsen::registry {

class CacheInvalidatingDriver final : public storage::ForwardingDriver {
 public:
  CacheInvalidatingDriver(std::shared_ptr<storage::Driver> driver, CatalogCache& catalog,
                          TagListCache& tag_lists);

  void put_content(const std::string& key, std::string_view content) override;
  void put_content_volatile(const std::string& key, std::string_view content) override;
  std::unique_ptr<storage::Writer> writer(const std::string& key, bool append) override;
  void move(const std::string& from, const std::string& to) override;
  bool remove(const std::string& key) override;

 private:
  // After an object was stored at key.
  void stored(const std::string& key);
  // After the object or subtree at key was removed.
  void removed(const std::string& key);

  CatalogCache& catalog_;
  TagListCache& tag_lists_;
};

}  // namespace onsen::registry
