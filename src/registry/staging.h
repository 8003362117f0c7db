// Writes and removals that a SIGKILL cannot leave half-done where clients look.
//
// A temporary object lives in the repository's upload area (_uploads/.staging-<random>) and is
// moved into place in one rename, so an interrupted write leaves debris only where unfinished
// uploads live: outside the tree that Distribution and Onsen serve and compare, and removed by
// upload purging. A directory (a new tag) is built there whole and moved into place; one being
// removed is first moved there, so a reader never sees it half gone.
//
// Works through the Driver interface only (put_content, move, remove). Thread-safe.
#pragma once

#include "storage/driver.h"

#include <string>
#include <string_view>

namespace onsen::registry::staging {

// A fresh key in repo's upload area; nothing exists there yet.
std::string new_key(const std::string& repo);

// Stores content at key atomically: put at a staging key, then moved over key (or put at key
// directly where the driver's put leaves no debris: storage::kPutLeavesNoDebris).
void put(storage::Driver& driver, const std::string& repo, const std::string& key,
         std::string_view content);

// Removes the object or directory at key as one step for readers: moved to a staging key, then
// removed there. Returns false when nothing was at key.
bool remove(storage::Driver& driver, const std::string& repo, const std::string& key);

}  // namespace onsen::registry::staging
