// Manifest revisions of a repository: the manifest bytes live in the blob store under their
// digest; a revision link ("_manifests/revisions/<alg>/<hex>/link") makes them part of the repo.
// Thread-safe.
#pragma once

#include "registry/blob_store.h"
#include "registry/digest.h"
#include "storage/driver.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onsen::registry {

class ManifestStore {
 public:
  // Largest manifest accepted or served.
  static constexpr uint64_t kMaxManifestSize = 4 << 20;

  ManifestStore(std::shared_ptr<storage::Driver> driver, BlobStore& blobs)
      : driver_(std::move(driver)), blobs_(blobs) {}

  bool exists(const std::string& repo, const Digest& digest);
  // exists() of each digest, looked up in batches.
  std::vector<bool> exists(const std::string& repo, const std::vector<Digest>& digests);
  // The manifest bytes; nullopt when the repository has no such revision.
  std::optional<std::string> get(const std::string& repo, const Digest& digest);
  // Stores the bytes (already verified to hash to digest) and links the revision.
  void put(const std::string& repo, const Digest& digest, std::string_view content);
  // Unlinks the revision; false when there was none. The bytes stay for garbage collection.
  bool remove(const std::string& repo, const Digest& digest);
  // Every revision of the repository.
  std::vector<Digest> list(const std::string& repo);

 private:
  std::shared_ptr<storage::Driver> driver_;
  BlobStore& blobs_;
};

}  // namespace onsen::registry
