// The referrers index: for each subject digest, the manifest revisions of the repository whose
// `subject` it is, as link files ("_referrers/<s-alg>/<s-hex>/<alg>/<hex>/link", storage/layout.h).
// A referrers request lists one directory instead of parsing every manifest of the repository.
//
// Who keeps it right (docs/ARCHITECTURE.md, "Referrers index"):
// - A manifest PUT adds the entry BEFORE it links the revision, so a revision with a subject never
//   lacks its entry, even after a crash; a DELETE removes it AFTER unlinking the revision.
// - An entry whose revision does not exist (a crash in between, or a DELETE by registry:2, which
//   knows nothing of this index) is dangling: readers check every entry against the revision and
//   its manifest's subject, so a dangling or wrong entry is never served.
// - A manifest with a subject pushed by registry:2 has no entry until it is pushed again through
//   Onsen (which writes the entry); `onsen check` reports each such revision.
//
// Thread-safe: all state is in the storage driver.
#pragma once

#include "registry/digest.h"
#include "storage/driver.h"

#include <memory>
#include <string>
#include <vector>

namespace onsen::registry {

class ReferrersIndex {
 public:
  explicit ReferrersIndex(std::shared_ptr<storage::Driver> driver) : driver_(std::move(driver)) {}

  // Records that revision `referrer` of repo has subject `subject` (atomic, durable; idempotent).
  void add(const std::string& repo, const Digest& subject, const Digest& referrer);
  // Removes that record; false when there was none.
  bool remove(const std::string& repo, const Digest& subject, const Digest& referrer);
  // The referrers recorded for subject, unverified (entries may be dangling), sorted.
  std::vector<Digest> list(const std::string& repo, const Digest& subject);

 private:
  std::shared_ptr<storage::Driver> driver_;
};

}  // namespace onsen::registry
