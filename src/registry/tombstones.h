// Markers ("tombstones") the collector writes for the blobs it is about to delete, a chunk at a
// time, before its last look at them, and removes once the chunk is done: a push that makes an
// existing blob needed without writing its data (a manifest PUT, a mount, an upload of bytes
// already stored) writes first, then looks for the markers of its blobs, and when one is there
// waits until it is gone and checks the data is still stored. A write before the collector's last
// look is seen young by it; one after it finds the marker (or, once the marker is gone, the data
// gone). docs/ARCHITECTURE.md, "Garbage collection".
//
// The markers live outside Distribution's paths:
// `<root>/docker/registry/v2/onsen/doomed/<alg>/<hex>`.
#pragma once

#include "registry/digest.h"
#include "storage/driver.h"

#include <chrono>
#include <string>
#include <vector>

namespace onsen::registry::tombstones {

// A marker older than this was left by a killed collector: writers ignore it, and the next
// collection removes it.
inline constexpr std::chrono::seconds kStale{60};
// How long a writer waits for a marker to go (a collector's chunk takes about a second on S3).
inline constexpr std::chrono::seconds kWait{10};

std::string key(const Digest& digest);
// The directory holding every marker (for the collector's removal of stale ones).
std::string root();

// For each digest: whether its blob's data is stored, once no fresh marker names it (waiting at
// most kWait). One batch of marker stats, then (in order: a marker gone may mean its blob is gone)
// one of data stats. `driver` must not cache (a cached stat of the data could predate its
// removal).
std::vector<bool> still_stored(storage::Driver& driver, const std::vector<Digest>& digests);

}  // namespace onsen::registry::tombstones
