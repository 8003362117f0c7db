// Results of storage reads kept by key: stat results and whole small objects, for a driver whose
// every call is a network round trip (S3). A byte- and entry-bounded LRU; what it holds is only
// ever a copy of what the storage answered, never an absence (no negative caching: an object
// another process just created is read from the storage at once).
//
// Freshness is its user's business, in two parts:
// - invalidate(key) after every write, move or removal at key (or of a subtree holding it), also
//   those other processes report;
// - an age limit (set_max_age) for what no report covers: an entry is served only while younger
//   than the limit, counted from when the read that filled it started.
// A read racing an invalidation must not put back what it read before the write: each read is
// registered (begin) before it goes to the storage, an invalidation of its key marks it, and a
// marked read stores nothing.
//
// Thread-safe.
#pragma once

#include "storage/driver.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace onsen::storage {

class ReadCache {
 public:
  using Clock = std::chrono::steady_clock;

  ReadCache(size_t max_bytes, size_t max_entries, Clock::duration max_age);
  ReadCache(const ReadCache&) = delete;
  ReadCache& operator=(const ReadCache&) = delete;

  // A read of one key in flight, from begin() until destroyed; store_*() through it.
  class Read {
   public:
    Read(Read&& other) noexcept;
    Read& operator=(Read&&) = delete;
    ~Read();

   private:
    friend class ReadCache;
    struct Flight {
      std::string key;
      Clock::time_point started;
      bool invalidated = false;
    };
    Read(ReadCache* cache, std::list<Flight>::iterator flight) : cache_(cache), flight_(flight) {}
    ReadCache* cache_;
    std::list<Flight>::iterator flight_;
  };

  // Registers a read of key about to go to the storage.
  Read begin(const std::string& key);
  // Caches what the read found, unless its key was invalidated since begin() (or the entry would
  // not fit at all).
  void store_stat(Read& read, const FileInfo& info);
  void store_content(Read& read, std::string content);

  // The cached stat / content of key, fresh enough; nullopt when none.
  std::optional<FileInfo> stat(const std::string& key);
  std::optional<std::string> content(const std::string& key);

  // Drops key and every key below it ("/a/b" drops "/a/b" and "/a/b/c", not "/a/bc"), and marks
  // the reads in flight of those keys.
  void invalidate(const std::string& key);
  // Drops everything (reads in flight included).
  void clear();
  void set_max_age(Clock::duration max_age) { max_age_ = max_age; }

  // Largest object stored by store_content.
  size_t max_object_size() const { return max_bytes_ / 16; }

  struct Counters {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t entries = 0;
    uint64_t bytes = 0;
  };
  Counters counters();

 private:
  struct Entry;
  using Entries = std::map<std::string, Entry, std::less<>>;
  struct Entry {
    std::optional<FileInfo> info;
    Clock::time_point info_read;  // when the read that found info started
    std::optional<std::string> content;
    Clock::time_point content_read;
    std::list<Entries::iterator>::iterator lru;
    size_t bytes = 0;
  };

  // The entry for the read's key (made when missing, moved to the front of the LRU), or null when
  // the read was invalidated. Locked.
  Entry* entry_for_store(Read& read);
  // Recounts the entry's bytes, then evicts from the back until within the limits. Locked.
  void account(Entries::iterator it);
  void erase(Entries::iterator it);  // Locked.
  void clear_locked_entries();
  // Whether something read at `read` is still young enough.
  bool fresh(Clock::time_point read) const;
  static bool covers(const std::string& prefix, const std::string& key);

  const size_t max_bytes_;
  const size_t max_entries_;
  std::atomic<Clock::duration> max_age_;
  std::mutex mutex_;
  Entries entries_;
  std::list<Entries::iterator> lru_;  // most recently used first
  std::list<Read::Flight> flights_;   // reads in flight: few, as many as concurrent requests
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace onsen::storage
