#include "registry/tag_store.h"

#include "registry/links.h"
#include "registry/staging.h"
#include "storage/layout.h"

namespace onsen::registry {

namespace layout = storage::layout;

std::optional<Digest> TagStore::resolve(const std::string& repo, const std::string& tag) {
  return read_link(*driver_, layout::tag_current_link(repo, tag));
}

void TagStore::tag(const std::string& repo, const std::string& tag, const Digest& digest) {
  const std::string dir = layout::tag_dir(repo, tag);
  const std::string index = layout::tag_index_link(repo, tag, digest.algorithm(), digest.hex());
  const std::string current = layout::tag_current_link(repo, tag);
  if (!driver_->stat(dir)) {
    if (!(driver_->capabilities() & storage::kAtomicDirectoryMove)) {
      // No rename of a directory (S3: a copy per object, which a crash may cut between the index
      // entry and the current link): the current link is the first object under the new tag, so
      // it is never listed without one. A crash before the index entry leaves an index that
      // lacks the digest, which no reader consults.
      write_link(*driver_, repo, current, digest);
      write_link(*driver_, repo, index, digest);
      return;
    }
    // A new tag appears whole: built in the upload area and moved into place in one rename, so
    // no crash leaves a listed tag without a current link.
    const std::string staged = staging::new_key(repo);
    driver_->put_content(staged + index.substr(dir.size()), digest.str());
    driver_->put_content(staged + current.substr(dir.size()), digest.str());
    try {
      driver_->move(staged, dir);
      return;
    } catch (const storage::Error&) {
      driver_->remove(staged);
      if (!driver_->stat(dir)) throw;  // else another request made the tag first: update it
    }
  }
  // Index entry first: a crash in between leaves an extra index entry, never a current link
  // that the index does not know.
  write_link(*driver_, repo, index, digest);
  write_link(*driver_, repo, current, digest);
}

bool TagStore::untag(const std::string& repo, const std::string& tag) {
  // Moved away first: a crash never leaves the tag listed with its current link gone.
  const bool removed = staging::remove(*driver_, repo, layout::tag_dir(repo, tag));
  if (removed && usage_) usage_->untagged(repo, tag);
  return removed;
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
