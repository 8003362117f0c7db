// Tag lists of repositories (GET /v2/<name>/tags/list), cached per repository and revalidated on
// every use by the modification time of the repository's tags directory: one stat instead of
// listing (and sorting) every tag. That needs a driver whose directory mtimes track their children
// (storage::kDirectoryMtimeTracksChildren); on other drivers (object stores) a list is instead
// used for at most a fixed age after it was read, like the catalog's (find_listed_since).
//
// Freshness:
// - Writes made by this process: the Registry invalidates the repository after any write under
//   its tags directory, so the next lookup misses.
// - Writes by other processes sharing the storage: creating or removing a tag directory changes
//   the tags directory's mtime. A list is only cached when that mtime was at least kSettle older
//   than the clock when it was read, because filesystems store coarse timestamps (one tick, or
//   one second on some): a second change within the same tick as the one we saw would otherwise
//   leave the mtime unchanged. Clocks of other writers are assumed to agree with ours within
//   that margin (NFS servers with a skewed clock are not covered).
//
// Bounded: at most max_repositories lists, least recently used dropped first.
// Thread-safe. A store() racing with an invalidate() of the same cache is dropped (generations).
#pragma once

#include "registry/name_listing.h"

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace onsen::registry {

class TagListCache {
 public:
  using Time = std::chrono::system_clock::time_point;
  static constexpr std::chrono::seconds kSettle{2};

  explicit TagListCache(size_t max_repositories);

  // The list cached for repo when the tags directory's mtime is still `mod_time`; else null (a
  // list cached under another mtime is dropped).
  std::shared_ptr<const NameListing> find(const std::string& repo, Time mod_time);
  // Taken before reading the storage; pass it to store().
  uint64_t generation();
  // Caches names, read after a stat (at `now`) that gave mod_time, unless something was
  // invalidated since `generation` or the mtime is too recent to be trusted.
  void store(const std::string& repo, Time mod_time, Time now, uint64_t generation,
             std::shared_ptr<const NameListing> names);
  // Fallback for drivers without kDirectoryMtimeTracksChildren: the list cached for repo when it
  // was read (its listing started) at or after `oldest`; else null.
  std::shared_ptr<const NameListing> find_listed_since(const std::string& repo, Time oldest);
  // Caches names whose listing started at `listed_at`, for find_listed_since, unless something
  // was invalidated since `generation`.
  void store_listed(const std::string& repo, Time listed_at, uint64_t generation,
                    std::shared_ptr<const NameListing> names);
  // After a write under repo's tags directory.
  void invalidate(const std::string& repo);
  // After a removal that may have taken many repositories.
  void invalidate_all();

 private:
  struct Entry {
    Time stamp;  // the tags directory's mtime, or when the listing started (find_listed_since)
    std::shared_ptr<const NameListing> names;
    std::list<std::string>::iterator lru;
  };

  // The entry for repo when keep(its stamp), moved to the front of the LRU; else dropped. Locked.
  template <typename Keep>
  std::shared_ptr<const NameListing> find_locked(const std::string& repo, Keep keep);
  void store_locked(const std::string& repo, Time stamp, std::shared_ptr<const NameListing> names);

  size_t max_repositories_;
  std::mutex mutex_;
  uint64_t generation_ = 0;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently used first
};

}  // namespace onsen::registry
