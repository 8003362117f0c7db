// `onsen check [CONFIG]`: a read-only consistency check of the storage `onsen serve [CONFIG]`
// would serve (same configuration lookup and REGISTRY_* overrides). Prints one line per problem
// on stdout, then a summary.
#pragma once

#include <string>

namespace onsen::cli {

// Returns the process exit status: 0 when the storage is consistent, 1 when a problem was found
// (or the storage could not be read), 2 for a configuration error.
int check(const std::string& config_path);

}  // namespace onsen::cli
