// `onsen du [--json] [REPOSITORY...] [CONFIG]`: the storage usage of the store `onsen serve
// [CONFIG]` would serve (same configuration lookup), from one walk of it: per repository its
// deduplicated size, the part it shares with other repositories, its blobs and tags (and its
// quota), then the store's total, as a table like du's, or as the JSON of GET /admin/usage.
#pragma once

#include <string>
#include <vector>

namespace onsen::cli {

struct DuOptions {
  bool json = false;
  std::vector<std::string> repositories;  // empty: all
  std::string config_path;
};

// The process exit status: 0, 1 when the storage could not be read, 2 for a configuration error.
int du(const DuOptions& options);

}  // namespace onsen::cli
