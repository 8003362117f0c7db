#include "registry/manifest_store.h"

#include "registry/links.h"
#include "storage/layout.h"

namespace onsen::registry {

namespace layout = storage::layout;

bool ManifestStore::exists(const std::string& repo, const Digest& digest) {
  auto target = read_link(*driver_, layout::revision_link(repo, digest.algorithm(), digest.hex()));
  return target && *target == digest && blobs_.size(digest).has_value();
}

std::vector<bool> ManifestStore::exists(const std::string& repo,
                                        const std::vector<Digest>& digests) {
  std::vector<std::string> keys;
  keys.reserve(digests.size());
  for (auto& d : digests) keys.push_back(layout::revision_link(repo, d.algorithm(), d.hex()));
  return blobs_.links_hold(keys, digests);
}

std::optional<std::string> ManifestStore::get(const std::string& repo, const Digest& digest) {
  auto target = read_link(*driver_, layout::revision_link(repo, digest.algorithm(), digest.hex()));
  if (!target || *target != digest) return std::nullopt;
  return blobs_.read_small(digest, kMaxManifestSize);
}

void ManifestStore::put(const std::string& repo, const Digest& digest, std::string_view content) {
  blobs_.put(repo, digest, content);
  write_link(*driver_, repo, layout::revision_link(repo, digest.algorithm(), digest.hex()), digest);
}

bool ManifestStore::remove(const std::string& repo, const Digest& digest) {
  auto key = layout::revision_link(repo, digest.algorithm(), digest.hex());
  return driver_->remove(key.substr(0, key.size() - std::string_view("/link").size()));
}

std::vector<Digest> ManifestStore::list(const std::string& repo) {
  return list_digest_dirs(*driver_, layout::revisions_root(repo));
}

}  // namespace onsen::registry
