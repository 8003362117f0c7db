// Garbage collection of a registry in storage: mark every manifest and blob something still
// needs, then sweep the rest (Distribution's `registry garbage-collect`, made safe against servers
// that keep writing, docs/ARCHITECTURE.md "Garbage collection"). Works through storage::Driver
// only, so on every driver; reads go in batches and in parallel (Driver::get_contents, stats).
//
// The mark keeps (rule 1 of the design): every tag's current manifest; without delete_untagged
// every revision of every repository; every revision younger than grace; the children of a kept
// index, recursively (also with delete_untagged: Distribution 2.8 loses them, distribution#3178);
// a revision whose subject is a kept manifest of its repository (a signature, an SBOM). A kept
// manifest keeps its blob, its config and its layers. Only an untagged, old revision whose subject
// is not kept ("an orphan referrer") is collected without delete_untagged, and only when
// delete_orphan_referrers. A blob whose data or any layer link is younger than grace is kept.
//
// With a grace window (grace > 0: servers may be writing), before deleting anything the
// collector lists the store again and keeps what was written since the mark started (revisions,
// tags, layer links with mtime >= start - grace): a push that ran during the mark is safe; and
// right before deleting a blob it writes the blob's tombstone (registry/tombstones.h: pushes
// that rely on the blob wait for it) and looks at the blob's data and layer links once more (data
// and links younger than max(grace, BlobStore::kLinkRefreshAge) keep it). Without
// (grace 0, Distribution's rule: nothing writes meanwhile) it lists once and reads no mtime. Then
// it deletes manifests (tag index entries, revision links, referrers index entries), blobs (data
// and directory), and the links of deleted blobs in every repository (layer links, tag index
// entries), in that order, so a run killed anywhere is finished by the next one and `onsen check`
// is clean after a completed run.
//
// Uploads in progress (_uploads) are never touched: upload purging is their keeper.
#pragma once

#include "registry/retention.h"
#include "storage/driver.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace onsen::registry {

struct GcOptions {
  // Report what would be deleted, delete nothing.
  bool dry_run = false;
  // Collect revisions that no tag names (and that nothing kept references), as Distribution's -m.
  bool delete_untagged = false;
  // Nothing written more recently than this before the run started is collected. 0 is
  // Distribution's behaviour (everything unreferenced is collected): only safe on a store no server
  // writes to meanwhile. With a grace, blob data and layer links younger than
  // BlobStore::kLinkRefreshAge keep their blob whatever the grace; it should exceed the slowest
  // push (an index's untagged children wait for the index).
  std::chrono::seconds grace{0};
  // Collect a referrer (a manifest with a subject) whose subject is no kept manifest of its
  // repository, also without delete_untagged (zot's deleteReferrers). False: every referrer is
  // kept, whatever its subject (also with delete_untagged).
  bool delete_orphan_referrers = true;
  // Retention policies (registry/retention.h), applied before the mark: the tags its repository's
  // policy does not keep are deleted (only reported when dry_run or retention_dry_run) and the
  // manifests they named go with them unless something else keeps them; its untagged revisions
  // older than the policy's limit are collected as with delete_untagged.
  std::vector<RetentionPolicy> retention{};
  bool retention_dry_run = false;
  // Threads removing at once. Removals mostly wait for the filesystem's journal (or an S3 round
  // trip), not for a core, so a collection on a still store (the offline command) uses many;
  // inside a serving process a few, leaving the disk to requests.
  size_t removal_threads = 8;
  // Distribution's standard output lines ("<repo>: marking manifest <digest> ", "blob eligible for
  // deletion: <digest>", ...), one call per line, without the newline. Null: none (--quiet).
  std::function<void(std::string_view)> output = nullptr;
  // Progress worth a log line ("Deleting blob: <path>", "deleting manifest: <path>", phase
  // summaries). Null: none.
  std::function<void(std::string_view)> log = nullptr;
  // Asked between steps (per repository while marking, per object while sweeping): true stops the
  // run there; whatever it deleted so far is consistent, and the next run finishes the job. For a
  // time window, return whether the window has closed.
  std::function<bool()> should_stop = nullptr;
};

struct GcResult {
  uint64_t repositories = 0;
  uint64_t blobs_marked = 0;  // Distribution's "N blobs marked": manifests and their references
  // Deleted, or in a dry run eligible for deletion.
  uint64_t manifests_deleted = 0;  // revisions (one per repository and digest)
  uint64_t blobs_deleted = 0;
  uint64_t bytes_freed = 0;
  uint64_t tags_deleted = 0;   // by retention policies
  uint64_t links_deleted = 0;  // layer links and tag index entries of deleted blobs
  std::chrono::duration<double> duration{0};
  // False when should_stop ended the run early (or it failed): run again to finish.
  bool completed = false;
};

class GarbageCollector {
 public:
  // `driver` takes every write and removal: the stack `serve` uses (registry/
  // cache_invalidating_driver.h, read_caching_driver.h), so caches in this process and, over
  // Redis, in the other replicas drop what is deleted. `reads` is the same store without a read
  // cache (a cached link could be older than the store); null: `driver`.
  GarbageCollector(std::shared_ptr<storage::Driver> driver, GcOptions options,
                   std::shared_ptr<storage::Driver> reads = nullptr);

  // One mark and sweep of the whole store. Throws storage::Error when the store fails (what was
  // deleted until then is consistent, as after a stop).
  GcResult run();

  // Removes repository `name`: its tags, revision links, referrers index, layer links and
  // unfinished uploads, then its directory when nothing else (a nested repository) is left in it.
  // Its blobs go at the next collection. Throws Error(kNameInvalid) for an invalid name,
  // Error(kNameUnknown) when no such repository exists.
  void delete_repository(const std::string& name);

 private:
  struct Run;
  std::shared_ptr<storage::Driver> driver_;
  std::shared_ptr<storage::Driver> reads_;
  GcOptions options_;
};

}  // namespace onsen::registry
