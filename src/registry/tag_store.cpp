#include "registry/tag_store.h"

#include "registry/links.h"
#include "storage/layout.h"

namespace onsen::registry {

namespace layout = storage::layout;

std::optional<Digest> TagStore::resolve(const std::string& repo, const std::string& tag) {
  return read_link(*driver_, layout::tag_current_link(repo, tag));
}

void TagStore::tag(const std::string& repo, const std::string& tag, const Digest& digest) {
  // Index entry first: a crash in between leaves an extra index entry, never a current link
  // that the index does not know.
  write_link(*driver_, layout::tag_index_link(repo, tag, digest.algorithm(), digest.hex()), digest);
  write_link(*driver_, layout::tag_current_link(repo, tag), digest);
}

bool TagStore::untag(const std::string& repo, const std::string& tag) {
  return driver_->remove(layout::tag_dir(repo, tag));
}

std::optional<std::vector<std::string>> TagStore::list(const std::string& repo) {
  return driver_->list(layout::tags_dir(repo));
}

std::vector<std::string> TagStore::tags_of(const std::string& repo, const Digest& digest) {
  std::vector<std::string> result;
  for (auto& tag : list(repo).value_or(std::vector<std::string>{})) {
    if (resolve(repo, tag) == digest) result.push_back(tag);
  }
  return result;
}

}  // namespace onsen::registry
