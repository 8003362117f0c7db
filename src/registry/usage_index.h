// Storage usage per repository, kept in memory so that a question about it (`GET /admin/usage`,
// a quota check on a push) never walks the store: for each repository the blobs it links (layer
// links and manifest revisions, each blob once), their bytes, the part of those bytes that other
// repositories link too, and its tags; and the store's total, each blob counted once.
//
// Built by one walk of the store (list the repositories, their _layers and revisions and tags;
// one batch of stats for the blobs' sizes), repeated every `refresh` in the background, and kept
// right between walks by the hooks the registry core calls on its own writes (linked, unlinked,
// tagged, untagged) and by the listing changes other replicas publish where they carry enough
// (a tag list changed: its tags are listed again; a link key stored or removed: it is looked at).
// What no hook and no change reports (another writer without Redis, a garbage collection's sweep,
// a repository removed) is taken in by the next walk, or at once through refresh_soon().
//
// Quotas (registry/quotas.h) are checked against it: check_bytes, check_push. Across replicas the
// usage is what this replica knows, so a limit holds best-effort there (docs/ARCHITECTURE.md).
//
// Thread-safe.
#pragma once

#include "registry/cache_events.h"
#include "registry/digest.h"
#include "registry/quotas.h"
#include "storage/driver.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace onsen::registry {

struct RepositoryUsage {
  std::string name;
  uint64_t bytes = 0;         // its blobs' sizes, each blob once
  uint64_t shared_bytes = 0;  // the part of `bytes` in blobs another repository links too
  uint64_t blobs = 0;
  uint64_t tags = 0;
  std::optional<Quota> quota;  // the quota that applies, if any
};

struct UsageReport {
  std::vector<RepositoryUsage> repositories;  // sorted by name
  uint64_t total_bytes = 0;                   // every linked blob once, across the store
  uint64_t total_blobs = 0;
  bool ready = false;  // a walk has completed: the figures are the store's
  std::chrono::system_clock::time_point walked{};  // when the last completed walk started
};

// 10.5 MiB: a size as a person reads it (binary units, one decimal), in messages and `onsen du`.
std::string human_size(uint64_t bytes);

class UsageIndex {
 public:
  explicit UsageIndex(std::shared_ptr<storage::Driver> driver, Quotas quotas = {});
  ~UsageIndex();  // stops the background thread
  UsageIndex(const UsageIndex&) = delete;
  UsageIndex& operator=(const UsageIndex&) = delete;

  // One walk now, on the calling thread (`onsen du`). Throws storage::Error.
  void walk();
  // A thread that walks now, then every `refresh`, and applies other replicas' changes.
  void start(std::chrono::seconds refresh);
  // Wakes the thread for a walk now (after a garbage collection or a repository delete).
  void refresh_soon();

  // All repositories (`only` empty) or those named in `only` that the index knows.
  UsageReport report(const std::vector<std::string>& only = {}) const;
  std::optional<RepositoryUsage> repository(const std::string& name) const;

  // Hooks of the registry core, after its write succeeded. `size` when the caller knows it, else
  // the blob is looked up (one stat) unless the index already knows it.
  void linked(const std::string& repo, const Digest& digest, std::optional<uint64_t> size = {});
  void unlinked(const std::string& repo, const Digest& digest);
  void tagged(const std::string& repo, const std::string& tag);
  void untagged(const std::string& repo, const std::string& tag);
  // A change another replica made (Registry::apply): queued for the background thread.
  void changed(const ListingChange& change);

  // Throw Error(kDenied) naming the quota and the usage when the repository's quota would be
  // exceeded. check_bytes: `more` bytes are about to be stored in it (a declared upload).
  // check_push: a manifest of `size` bytes (its blobs already linked) is about to be accepted,
  // and `tag` (if any) to point at it; `tag_exists` confirms in the store that the tag is not new
  // when the index does not know it and the tag limit is reached. Without a quota for the
  // repository they return at once; else they wait (up to 30 s, then Error(kUnavailable)) for the
  // first walk.
  void check_bytes(const std::string& repo, uint64_t more) const;
  void check_push(const std::string& repo, const Digest& digest, uint64_t size,
                  const std::string* tag,
                  const std::function<bool(const std::string&)>& tag_exists) const;

 private:
  struct Repo {
    std::unordered_set<std::string> blobs;  // digest strings
    std::unordered_set<std::string> tags;
    uint64_t bytes = 0;
  };
  struct Blob {
    uint64_t size = 0;
    uint32_t repos = 0;  // repositories linking it
  };
  struct State {
    std::map<std::string, Repo> repos;
    std::unordered_map<std::string, Blob> blobs;
    void link(const std::string& repo, const std::string& digest, uint64_t size);
    void unlink(const std::string& repo, const std::string& digest);
  };
  // A hook's effect, replayed on a walk's result when it came while the walk ran.
  struct Event {
    enum class Kind { kLinked, kUnlinked, kTagged, kUntagged, kTags } kind;
    std::string repo;
    std::string name;  // digest or tag
    uint64_t size = 0;
    std::vector<std::string> tags = {};  // kTags: the repository's whole tag list
  };

  State scan() const;
  void record(Event event);
  static void apply(State& state, const Event& event);
  void apply_change(const ListingChange& change);
  std::optional<uint64_t> known_size(const std::string& digest) const;
  // Under mutex_: the quota of `repo` once the first walk is done (nullptr: none).
  const Quota* quota_when_ready(const std::string& repo, std::unique_lock<std::mutex>& lock) const;
  void run(std::chrono::seconds refresh);

  std::shared_ptr<storage::Driver> driver_;
  Quotas quotas_;
  mutable std::mutex mutex_;
  mutable std::condition_variable ready_cv_;
  State state_;
  bool ready_ = false;
  std::chrono::system_clock::time_point walked_{};
  bool walking_ = false;
  std::vector<Event> during_walk_;
  // The background thread's work.
  std::condition_variable wake_;
  std::vector<ListingChange> changes_;
  bool refresh_requested_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace onsen::registry
