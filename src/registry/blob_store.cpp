#include "registry/blob_store.h"

#include "registry/links.h"
#include "registry/staging.h"
#include "registry/tombstones.h"
#include "storage/layout.h"

namespace onsen::registry {

namespace layout = storage::layout;

std::optional<uint64_t> BlobStore::size(const Digest& digest) {
  auto info = driver_->stat(layout::blob_data(digest.algorithm(), digest.hex()));
  if (!info || info->is_dir) return std::nullopt;
  return info->size;
}

std::unique_ptr<storage::Reader> BlobStore::open(const Digest& digest, uint64_t offset,
                                                 uint64_t length) {
  return driver_->range_reader(layout::blob_data(digest.algorithm(), digest.hex()), offset, length);
}

std::optional<std::string> BlobStore::url(const Digest& digest, std::string_view method,
                                          std::chrono::seconds expiry) {
  return driver_->url_for(layout::blob_data(digest.algorithm(), digest.hex()), method, expiry);
}

std::optional<std::string> BlobStore::read_small(const Digest& digest, uint64_t max_size) {
  auto reader = driver_->reader(layout::blob_data(digest.algorithm(), digest.hex()), 0);
  if (!reader || reader->size() > max_size) return std::nullopt;
  std::string content(reader->size(), '\0');
  size_t got = 0;
  while (got < content.size()) {
    size_t n = reader->read(content.data() + got, content.size() - got);
    if (n == 0) throw storage::Error("blob " + digest.str() + " ended before its size");
    got += n;
  }
  return content;
}

void BlobStore::put(const std::string& repo, const Digest& digest, std::string_view content) {
  // Stored already and young: nothing to do. Stored long ago, it is written again, so that a
  // collection deciding on it sees it young (a manifest pushed again after its deletion; the
  // bytes are small): docs/ARCHITECTURE.md, "Garbage collection".
  auto info = driver_->stat(layout::blob_data(digest.algorithm(), digest.hex()));
  if (info && !info->is_dir && info->size == content.size() &&
      info->mod_time >= std::chrono::system_clock::now() - kLinkRefreshAge) {
    return;
  }
  staging::put(*driver_, repo, layout::blob_data(digest.algorithm(), digest.hex()), content);
}

void BlobStore::adopt(const std::string& upload_data_key, const std::string& repo,
                      const Digest& digest, uint64_t size) {
  // Two uploads of the same content may race here; rename is atomic and both sources hold the
  // same verified bytes, so whichever lands last leaves an identical, complete blob. Data stored
  // long ago is replaced too, so that a collection deciding on it sees it young (an upload of
  // bytes whose blob nothing references any more): docs/ARCHITECTURE.md, "Garbage collection".
  const std::string data_key = layout::blob_data(digest.algorithm(), digest.hex());
  auto info = driver_->stat(data_key);
  const bool old =
      !info || info->is_dir || info->mod_time < std::chrono::system_clock::now() - kLinkRefreshAge;
  if (!old) {
    // The link first, then the collector's markers: a collection deleting the blob meanwhile
    // either sees the link or is seen here (tombstones.h).
    link(repo, digest, size);
    if (still_stored({digest})[0]) {
      driver_->remove(upload_data_key);
      return;
    }
  }
  driver_->move(upload_data_key, data_key);
  link(repo, digest, size);
  if (info && !info->is_dir && old && !still_stored({digest})[0]) {
    unlink(repo, digest);
    throw storage::Error("blob " + digest.str() + " was collected while its upload finished");
  }
}

std::vector<bool> BlobStore::still_stored(const std::vector<Digest>& digests) {
  return tombstones::still_stored(*uncached_, digests);
}

std::optional<uint64_t> BlobStore::linked_size(const std::string& repo, const Digest& digest) {
  auto target = read_link(*driver_, layout::layer_link(repo, digest.algorithm(), digest.hex()));
  if (!target || *target != digest) return std::nullopt;
  return size(digest);
}

std::vector<bool> BlobStore::linked(const std::string& repo, const std::vector<Digest>& digests) {
  std::vector<std::string> keys;
  keys.reserve(digests.size());
  for (auto& d : digests) keys.push_back(layout::layer_link(repo, d.algorithm(), d.hex()));
  return links_hold(keys, digests);
}

std::vector<bool> BlobStore::links_hold(const std::vector<std::string>& link_keys,
                                        const std::vector<Digest>& digests) {
  auto contents = driver_->get_contents(link_keys);
  std::vector<bool> held(digests.size(), false);
  std::vector<size_t> named;  // indexes whose link names the right digest: their blobs are stat'ed
  std::vector<std::string> blob_keys;
  for (size_t i = 0; i < digests.size(); ++i) {
    if (!contents[i] || Digest::parse(*contents[i]) != digests[i]) continue;
    named.push_back(i);
    blob_keys.push_back(layout::blob_data(digests[i].algorithm(), digests[i].hex()));
  }
  auto infos = driver_->stats(blob_keys);
  for (size_t j = 0; j < named.size(); ++j) held[named[j]] = infos[j] && !infos[j]->is_dir;
  return held;
}

void BlobStore::link(const std::string& repo, const Digest& digest, std::optional<uint64_t> size) {
  write_link(*driver_, repo, layout::layer_link(repo, digest.algorithm(), digest.hex()), digest);
  if (usage_) usage_->linked(repo, digest, size);
}

void BlobStore::refresh_links(const std::string& repo, const std::vector<Digest>& digests) {
  std::vector<std::string> keys;
  keys.reserve(digests.size());
  for (auto& d : digests) keys.push_back(layout::layer_link(repo, d.algorithm(), d.hex()));
  auto infos = driver_->stats(keys);
  const auto old = std::chrono::system_clock::now() - kLinkRefreshAge;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (infos[i] && infos[i]->mod_time < old) write_link(*driver_, repo, keys[i], digests[i]);
  }
}

bool BlobStore::unlink(const std::string& repo, const Digest& digest) {
  auto key = layout::layer_link(repo, digest.algorithm(), digest.hex());
  // Remove the link's directory (<alg>/<hex>/), as Distribution does.
  const bool removed =
      driver_->remove(key.substr(0, key.size() - std::string_view("/link").size()));
  if (removed && usage_) usage_->unlinked(repo, digest);
  return removed;
}

}  // namespace onsen::registry
