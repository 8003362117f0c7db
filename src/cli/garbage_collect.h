// `onsen garbage-collect [--dry-run|-d] [--delete-untagged|-m] [--quiet|-q] [--grace DURATION]
// [CONFIG]`, Distribution's `registry garbage-collect` with its flags and output lines, and
// `onsen repository delete NAME [CONFIG]`. Both open the storage as `onsen serve` does (the same
// configuration lookup, REGISTRY_* overrides, and the Redis channel of running replicas, whose
// caches then drop what is deleted).
#pragma once

#include <string>

namespace onsen::cli {

struct GarbageCollectOptions {
  bool dry_run = false;
  bool delete_untagged = false;
  bool quiet = false;       // no standard output lines (the log lines on standard error remain)
  std::string grace = "0";  // a Go duration: nothing younger is collected
};

// Exit status: 0 when the collection completed, 1 when it failed, 2 for a configuration error or
// an invalid --grace.
int garbage_collect(const std::string& config_path, const GarbageCollectOptions& options);

// Exit status: 0 when the repository was deleted, 1 when it does not exist (or the storage
// failed), 2 for a configuration error or an invalid name.
int repository_delete(const std::string& name, const std::string& config_path);

}  // namespace onsen::cli
