// Tags of a repository (Distribution's "_manifests/tags/<tag>/{current,index}" links).
// Thread-safe: every write is one atomic link write or one subtree removal.
#pragma once

#include "registry/digest.h"
#include "registry/usage_index.h"
#include "storage/driver.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onsen::registry {

class TagStore {
 public:
  // `usage` (may be null) hears of every tag removed (Registry tells it of the tags it makes).
  explicit TagStore(std::shared_ptr<storage::Driver> driver, UsageIndex* usage = nullptr)
      : driver_(std::move(driver)), usage_(usage) {}

  std::optional<Digest> resolve(const std::string& repo, const std::string& tag);
  // Points tag at digest, recording the digest in the tag's index as Distribution does.
  void tag(const std::string& repo, const std::string& tag, const Digest& digest);
  // Returns false when the tag did not exist.
  bool untag(const std::string& repo, const std::string& tag);
  // Tag names, unsorted; nullopt when the repository has no tags directory.
  std::optional<std::vector<std::string>> list(const std::string& repo);
  // Tags currently pointing at digest.
  std::vector<std::string> tags_of(const std::string& repo, const Digest& digest);

 private:
  std::shared_ptr<storage::Driver> driver_;
  UsageIndex* usage_;
};

}  // namespace onsen::registry
