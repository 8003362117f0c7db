// The registry core: repositories, blobs, uploads, manifests, tags and referrers, on top of one
// storage driver laid out as CNCF Distribution lays it out. Validates every name, tag and digest
// it is given and reports failures as registry::Error. Knows nothing of HTTP.
//
// Thread-safe: one Registry serves all requests.
#pragma once

#include "registry/blob_store.h"
#include "registry/cache_events.h"
#include "registry/catalog_cache.h"
#include "registry/digest.h"
#include "registry/manifest.h"
#include "registry/manifest_store.h"
#include "registry/name_listing.h"
#include "registry/referrers_index.h"
#include "registry/tag_list_cache.h"
#include "registry/tag_store.h"
#include "registry/upload_store.h"
#include "registry/usage_index.h"
#include "storage/driver.h"
#include "storage/read_cache.h"

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace onsen::registry {

struct RegistryOptions {
  bool delete_enabled = false;
  bool read_only = false;
  // Listing caches (docs/ARCHITECTURE.md, "Caching"): how old the cached catalog may get before
  // a request walks the storage again (writes by other processes show within that; the same bound
  // applies to tag lists on drivers without storage::kDirectoryMtimeTracksChildren), and how many
  // repositories' tag lists are kept.
  std::chrono::milliseconds catalog_max_age{1000};
  // Replicas sharing their listing changes (registry/cache_events.h): every change this registry
  // makes is published there, and while the changes of the others arrive (set_listing_changes_live)
  // the listing caches keep their lists this long instead: the limit then only covers changes
  // the channel lost, or writers outside it.
  ListingChangePublisher* listing_changes = nullptr;
  std::chrono::milliseconds shared_listing_max_age{60000};
  size_t max_cached_tag_lists = 1024;
  // The read cache (registry/read_caching_driver.h: links and blob data kept in memory, so a warm
  // blob HEAD or manifest GET costs no store call), on drivers without storage::kCheapReads only
  // (a local filesystem has the page cache), when read_cache_entries > 0: at most that many keys
  // and read_cache_bytes (0 keeps nothing, but the writes' invalidations are still published). Its
  // age limit is the listing caches' (catalog_max_age, or shared_listing_max_age while other
  // replicas' changes arrive), and they tell it their writes.
  size_t read_cache_entries = 0;
  size_t read_cache_bytes = 64 << 20;
  // POST ?mount=<digest> without `from` mounts from any repository holding the blob
  // (mount_blob_from_any); off, it starts an ordinary upload.
  bool automatic_cross_mount = false;
  // Told of every link and tag written or removed, and of other replicas' changes; checks the
  // quotas of pushes (registry/usage_index.h). Null: no usage kept, no quotas.
  UsageIndex* usage = nullptr;
};

struct ManifestContent {
  Digest digest;
  std::string media_type;
  std::string bytes;
};

struct PutManifestResult {
  Digest digest;
  std::optional<Digest> subject;
};

class Registry {
 public:
  Registry(std::shared_ptr<storage::Driver> driver, RegistryOptions options);

  // The storage driver's storage::Capability bits.
  unsigned storage_capabilities() const { return driver_->capabilities(); }

  // The driver stack every write of this registry goes through (the caches' invalidations, also
  // published to the other replicas), and the store beneath it, for a reader that must see no
  // cache (the garbage collector: registry/garbage_collector.h).
  std::shared_ptr<storage::Driver> storage_driver() const { return driver_; }
  std::shared_ptr<storage::Driver> uncached_storage_driver() const { return store_; }

  // Throws Error(kNameInvalid) unless name is a valid repository name.
  static void check_name(const std::string& name);

  // Blobs linked into a repository. Throw Error(kBlobUnknown).
  uint64_t blob_size(const std::string& repo, const Digest& digest);
  // A reader of `length` bytes of the blob from offset.
  std::unique_ptr<storage::Reader> open_blob(const std::string& repo, const Digest& digest,
                                             uint64_t offset, uint64_t length);
  // A URL where the client may GET or HEAD the blob's data itself for kBlobUrlExpiry (a presigned
  // S3 URL, Distribution's redirect); nullopt when the driver has none. Made locally, without a
  // look at the storage: the caller has found the blob linked (blob_size) first.
  std::optional<std::string> blob_url(const std::string& repo, const Digest& digest,
                                      std::string_view method);
  // Distribution's expiry of redirect URLs.
  static constexpr std::chrono::seconds kBlobUrlExpiry{20 * 60};
  void delete_blob(const std::string& repo, const Digest& digest);
  // The usage index (RegistryOptions::usage), null when none: told to walk again after what the
  // core does not report to it (a garbage collection, a repository delete).
  UsageIndex* usage() const { return options_.usage; }
  // Throws Error(kDenied) when storing `more` bytes in repo would exceed its quota.
  void check_quota(const std::string& repo, uint64_t more) const {
    if (options_.usage) options_.usage->check_bytes(repo, more);
  }

  // Uploads (see UploadStore).
  std::string start_upload(const std::string& repo);
  uint64_t upload_size(const std::string& repo, const std::string& id);
  std::unique_ptr<UploadSession> open_upload(const std::string& repo, const std::string& id);
  void cancel_upload(const std::string& repo, const std::string& id);
  UploadCounters upload_counters() const { return uploads_.counters(); }
  // Links a blob of repository `from` into `repo`; false when `from` has no such blob.
  bool mount_blob(const std::string& repo, const std::string& from, const Digest& digest);
  // Automatic cross-repository mount (options().automatic_cross_mount; false when it is off):
  // links the blob into `repo` when any repository holds it linked. Data in the blob store that
  // no repository links (deleted everywhere, awaiting garbage collection) is not mountable: that
  // would bring back what its owners removed. One stat when the blob is not stored at all, else
  // up to one per repository until a holder is found.
  bool mount_blob_from_any(const std::string& repo, const Digest& digest);

  // Manifests by tag or digest. Throw Error(kManifestUnknown / kNameUnknown / kTagInvalid /
  // kDigestInvalid).
  ManifestContent get_manifest(const std::string& repo, const std::string& reference);
  PutManifestResult put_manifest(const std::string& repo, const std::string& reference,
                                 std::string_view content_type, std::string_view body);
  // By digest: the revision and every tag pointing at it. By tag: only that tag. Returns the tags
  // it removed (for the notifications' tag delete events).
  std::vector<std::string> delete_manifest(const std::string& repo, const std::string& reference);

  // The tag list of a repository (sorted tag names), from the tag list cache. Throws
  // Error(kNameUnknown).
  std::shared_ptr<const NameListing> tag_list(const std::string& repo);
  // The repository list (the catalog), from the catalog cache.
  std::shared_ptr<const NameListing> repository_list();
  // Descriptors of the repository's manifests whose subject is `digest`, optionally only those of
  // one artifact type, sorted by digest. From the referrers index: costs as many manifest reads as
  // there are referrers, whatever the size of the repository.
  std::vector<Descriptor> referrers(const std::string& repo, const Digest& digest,
                                    const std::string& artifact_type);

  // What the caches answered (metrics): the catalog and tag list caches (a miss lists the
  // storage), and the read cache (RegistryOptions::read_cache_entries; zeros without it).
  struct CacheCounters {
    uint64_t catalog_hits = 0, catalog_misses = 0;
    uint64_t tag_list_hits = 0, tag_list_misses = 0;
    uint64_t read_hits = 0, read_misses = 0;
  };
  CacheCounters cache_counters();

  // A change another replica made (see RegistryOptions::listing_changes), applied to the caches.
  void apply(const ListingChange& change);
  // Whether changes made by other replicas are arriving (true: the channel is up; everything
  // cached before is dropped, since changes may have been missed while it was down).
  void set_listing_changes_live(bool live);

  // Removes uploads started before `cutoff` in every repository (Distribution's upload purging:
  // abandoned uploads otherwise hold disk forever). With dry_run, only counts them.
  size_t purge_uploads(std::chrono::system_clock::time_point cutoff, bool dry_run);

  // Throws Error(kUnsupported) unless deletes are allowed (storage.delete.enabled, not read-only);
  // also for deletes made beside the registry (the admin endpoint's repository delete).
  void check_delete_enabled() const;

 private:
  // The end of a mount: links digest into repo unless a collection deleted it meanwhile.
  bool link_mounted(const std::string& repo, const Digest& digest);
  void check_writable() const;
  bool repository_exists(const std::string& repo);
  // Names of the repositories under `key` that hold any of the given marker directories
  // (e.g. "_layers"), walking nested names.
  void list_repositories(const std::string& key, const std::string& prefix,
                         const std::vector<std::string_view>& markers,
                         std::vector<std::string>& out);

  RegistryOptions options_;
  // The current age limit of the listing caches (catalog_max_age or shared_listing_max_age).
  std::atomic<std::chrono::milliseconds> listing_max_age_;
  // Before driver_: the driver reports every write to them.
  CatalogCache catalog_;
  TagListCache tag_lists_;
  std::atomic<uint64_t> tag_list_hits_{0}, tag_list_misses_{0};
  storage::ReadCache read_cache_;
  std::shared_ptr<storage::Driver> store_;   // the driver given, beneath the caches
  std::shared_ptr<storage::Driver> driver_;  // a CacheInvalidatingDriver (on a ReadCachingDriver)
  BlobStore blobs_;
  UploadStore uploads_;
  ManifestStore manifests_;
  TagStore tags_;
  ReferrersIndex referrers_;
  // Serializes the manifest and tag writes of one repository (hashed onto a few mutexes). A
  // DELETE by digest lists the tags on the revision, then removes them and the revision; a PUT by
  // tag writes the revision, then the tag. Interleaved, they left a tag naming a deleted revision,
  // or failed on a directory removed under them. In-process only: processes sharing a root
  // directory can still interleave (as Distribution's can).
  std::array<std::mutex, 64> repository_locks_;
  std::mutex& repository_lock(const std::string& repo) {
    return repository_locks_[std::hash<std::string>{}(repo) % repository_locks_.size()];
  }
};

}  // namespace onsen::registry
