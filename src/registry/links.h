// Link files: small objects whose whole content is a digest string ("sha256:<hex>"), the way
// Distribution records that a repository references a blob, a manifest revision or a tag target.
#pragma once

#include "registry/digest.h"
#include "storage/driver.h"

#include <optional>
#include <string>
#include <vector>

namespace onsen::registry {

// The digest a link names; nullopt when the link is missing or does not hold a valid digest
// (a torn or foreign file is treated as absent rather than trusted).
std::optional<Digest> read_link(storage::Driver& driver, const std::string& key);

// Writes a link of repository `repo` atomically, staged in its upload area (registry/staging.h)
// so an interrupted write leaves no temporary file beside the link.
void write_link(storage::Driver& driver, const std::string& repo, const std::string& key,
                const Digest& digest);

// The digests named by the "<alg>/<hex>" directories under root (sha256 and sha512; entries that
// are not a valid digest are skipped), unsorted. Reads no link.
std::vector<Digest> list_digest_dirs(storage::Driver& driver, const std::string& root);

}  // namespace onsen::registry
