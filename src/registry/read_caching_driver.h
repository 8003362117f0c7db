// A storage driver wrapper that answers the small reads of pulls from a storage::ReadCache, so that
// on a network store (S3) a warm blob HEAD or manifest GET costs no store round trip
// (docs/ARCHITECTURE.md, "Read cache"). Cached, by key: the content of links under a repository's
// _layers and _manifests (layer links, revision links, tag current and index links), and the stat
// and whole content (up to ReadCache::max_object_size, read through reader(key, 0)) of blob data.
// Blob data is content-addressed: it changes only by removal, which the same rule covers.
//
// Every write, move and removal through this driver invalidates its keys (a subtree: its prefix)
// after the store acted and before it returns, also when it failed halfway, and publishes the
// invalidation (ListingChange::Kind::kStored) for the other replicas sharing the storage; keys in
// upload areas are never cached, so writes there cost nothing extra. The age limit of the cache is
// the Registry's business (the listing caches' rule).
//
// Thread-safe when the wrapped driver is.
#pragma once

#include "registry/cache_events.h"
#include "storage/forwarding_driver.h"
#include "storage/read_cache.h"

#include <initializer_list>
#include <memory>
#include <string>

namespace onsen::registry {

class ReadCachingDriver final : public storage::ForwardingDriver {
 public:
  // `cache` outlives the driver and every reader it returns. publisher may be null.
  ReadCachingDriver(std::shared_ptr<storage::Driver> driver, storage::ReadCache& cache,
                    ListingChangePublisher* publisher);

  std::optional<std::string> get_content(const std::string& key) override;
  std::optional<storage::FileInfo> stat(const std::string& key) override;
  std::vector<std::optional<std::string>> get_contents(
      const std::vector<std::string>& keys) override;
  std::vector<std::optional<storage::FileInfo>> stats(
      const std::vector<std::string>& keys) override;
  std::unique_ptr<storage::Reader> reader(const std::string& key, uint64_t offset) override;

  void put_content(const std::string& key, std::string_view content) override;
  void put_content_volatile(const std::string& key, std::string_view content) override;
  std::unique_ptr<storage::Writer> writer(const std::string& key, bool append) override;
  std::unique_ptr<storage::Writer> append_writer(const std::string& key) override;
  void move(const std::string& from, const std::string& to) override;
  bool remove(const std::string& key) override;

  // Whether what is stored at key is kept in the cache (link content, blob data).
  static bool cached_content(const std::string& key);
  static bool cached_stat(const std::string& key);

 private:
  // After a write at key (or of the subtree at key): drops it here and tells the other replicas.
  void changed(const std::string& key);
  // changed() in two steps, so a write of several keys waits for Redis once: drops key here and
  // queues its message (true when there is a channel to flush), then waits until Redis took it.
  bool invalidate(const std::string& key);
  void flush_published();
  // writer (null passes through), dropping key when it opens and again when it commits, closes or
  // cancels; writers in upload areas unwrapped.
  std::unique_ptr<storage::Writer> changing(const std::string& key,
                                            std::unique_ptr<storage::Writer> writer);
  // write(), then changed() for its keys, also when write() threw.
  template <typename Write>
  auto writing(std::initializer_list<const std::string*> keys, Write write);

  storage::ReadCache& cache_;
  ListingChangePublisher* publisher_;
};

}  // namespace onsen::registry
