// Content-addressed blobs shared by every repository, and the per-repository links that make a
// blob visible in a repository (Distribution's "_layers" links).
//
// Thread-safe: all state is in the storage driver, whose writes are atomic.
#pragma once

#include "registry/digest.h"
#include "registry/usage_index.h"
#include "storage/driver.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onsen::registry {

class BlobStore {
 public:
  // `usage` (may be null) hears of every link made and removed.
  // `uncached` (null: driver): the same store without a read cache, for still_stored().
  explicit BlobStore(std::shared_ptr<storage::Driver> driver, UsageIndex* usage = nullptr,
                     std::shared_ptr<storage::Driver> uncached = nullptr)
      : driver_(std::move(driver)),
        uncached_(uncached ? std::move(uncached) : driver_),
        usage_(usage) {}

  // Size of the blob's data; nullopt when the blob is not stored at all.
  std::optional<uint64_t> size(const Digest& digest);
  // A reader of `length` bytes from offset (Driver::range_reader).
  std::unique_ptr<storage::Reader> open(const Digest& digest, uint64_t offset, uint64_t length);
  // Driver::url_for of the blob's data; nullopt when the driver has no URLs.
  std::optional<std::string> url(const Digest& digest, std::string_view method,
                                 std::chrono::seconds expiry);
  // Whole content of a blob no larger than max_size; nullopt when missing or larger. One read
  // (its reader tells the size), no stat before it.
  std::optional<std::string> read_small(const Digest& digest, uint64_t max_size);
  // Stores content under its digest unless already there (and younger than kLinkRefreshAge),
  // staged in repo's upload area. The caller vouches for the digest.
  void put(const std::string& repo, const Digest& digest, std::string_view content);
  // Makes a completed upload's data the blob's data and links it into repo: moved into place
  // when the blob is new (or stored longer ago than kLinkRefreshAge), removed when an identical
  // blob is already stored and still_stored() once linked (a collection deleting it meanwhile:
  // moved into place after all). Throws storage::Error when old data it replaced was collected
  // meanwhile (the bytes are gone: the client pushes again; nothing was acknowledged).
  void adopt(const std::string& upload_data_key, const std::string& repo, const Digest& digest,
             uint64_t size);
  // After a write that makes blobs needed without writing their data (a link, a revision): for
  // each, whether its data is still stored once no collection is deleting it (tombstones.h).
  std::vector<bool> still_stored(const std::vector<Digest>& digests);

  // The size of the blob's data when repo links the blob and its data is stored, else nullopt:
  // one link read and one stat.
  std::optional<uint64_t> linked_size(const std::string& repo, const Digest& digest);
  bool linked(const std::string& repo, const Digest& digest) {
    return linked_size(repo, digest).has_value();
  }
  // linked() of each digest, as one batch of link reads and one of blob stats.
  std::vector<bool> linked(const std::string& repo, const std::vector<Digest>& digests);
  // For each i: the link at link_keys[i] names digests[i], whose blob is stored (the rule of
  // linked() and of manifest revisions), looked up in batches (Driver::get_contents, stats).
  std::vector<bool> links_hold(const std::vector<std::string>& link_keys,
                               const std::vector<Digest>& digests);
  // `size`: the blob's, when the caller knows it (the usage index then need not look it up).
  void link(const std::string& repo, const Digest& digest, std::optional<uint64_t> size = {});
  // How old a layer link may get before a manifest PUT that references its blob writes it again
  // (refresh_links). A collection running beside servers needs a grace longer than this
  // (docs/ARCHITECTURE.md, "Garbage collection").
  static constexpr std::chrono::minutes kLinkRefreshAge{10};
  // Writes again each layer link of repo, naming one of digests, that is older than
  // kLinkRefreshAge: a manifest pushed on a blob uploaded long ago (the client skipped the upload
  // after a HEAD) makes that blob young for the collector. One batch of stats, and a write per
  // old link.
  void refresh_links(const std::string& repo, const std::vector<Digest>& digests);
  // Returns false when there was no link.
  bool unlink(const std::string& repo, const Digest& digest);

 private:
  std::shared_ptr<storage::Driver> driver_;
  std::shared_ptr<storage::Driver> uncached_;
  UsageIndex* usage_;
};

}  // namespace onsen::registry
