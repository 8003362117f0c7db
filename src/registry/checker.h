// A read-only consistency check of a whole registry in storage (`onsen check`): every blob hashes
// to its digest, every link holds a valid digest that names a stored blob, every tag's current
// link names a revision of its repository, every revision's manifest parses, and the referrers
// index agrees with the revisions (an entry naming a revision files it under that manifest's
// subject; every revision with a subject has its entry). It reads only through the storage
// Driver, so it works for any driver.
//
// What is NOT a problem: blobs no link names (garbage, for a collector), empty directories (what
// an interrupted delete leaves), anything in a repository's _uploads area (unfinished uploads),
// tag index entries naming a manifest whose revision was deleted (Distribution keeps them too),
// referrers index entries naming no revision (what an interrupted manifest PUT or DELETE, or a
// DELETE by registry:2, leaves; readers skip them).
#pragma once

#include "storage/driver.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace onsen::registry {

struct CheckSummary {
  uint64_t blobs = 0;         // blob data objects hashed
  uint64_t blob_bytes = 0;    // bytes hashed
  uint64_t repositories = 0;  // repositories visited
  uint64_t links = 0;         // link files read (_layers, revisions, tags' current and index,
                              // referrers index)
  uint64_t manifests = 0;     // revisions whose manifest was parsed
  uint64_t tags = 0;
  uint64_t problems = 0;
};

class Checker {
 public:
  // Called once per problem: the storage key concerned and what is wrong with it.
  using ProblemSink = std::function<void(const std::string& key, const std::string& what)>;

  explicit Checker(std::shared_ptr<storage::Driver> driver) : driver_(std::move(driver)) {}

  // Walks the whole registry. A storage error while reading one object is reported as a problem
  // of that object and the walk goes on.
  CheckSummary run(const ProblemSink& on_problem);

 private:
  struct Walk;
  std::shared_ptr<storage::Driver> driver_;
};

}  // namespace onsen::registry
