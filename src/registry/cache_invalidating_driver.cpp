#include "registry/cache_invalidating_driver.h"

#include "storage/layout.h"

#include <string_view>

namespace onsen::registry {

namespace {

// A key under the repositories root, split at the first component starting with '_' (repository
// name components never do): ".../repositories/a/b/_manifests/tags/x" -> {"a/b", "_manifests",
// "tags/x"}. marker is empty when the key names a directory above any marker.
struct RepositoryKey {
  std::string_view name;
  std::string_view marker;
  std::string_view tail;
};

const std::string& repositories_prefix() {
  static const std::string prefix = storage::layout::repositories_root() + "/";
  return prefix;
}

// nullopt when key is not below the repositories root.
std::optional<RepositoryKey> split(std::string_view key) {
  const std::string& prefix = repositories_prefix();
  if (!key.starts_with(prefix)) return std::nullopt;
  std::string_view rest = key.substr(prefix.size());
  RepositoryKey parts{rest, {}, {}};
  for (size_t pos = 0; pos < rest.size();) {
    size_t end = rest.find('/', pos);
    if (end == std::string_view::npos) end = rest.size();
    if (rest[pos] == '_') {
      parts.name = rest.substr(0, pos == 0 ? 0 : pos - 1);
      parts.marker = rest.substr(pos, end - pos);
      parts.tail = end < rest.size() ? rest.substr(end + 1) : std::string_view();
      break;
    }
    pos = end + 1;
  }
  return parts;
}

bool is_tags_tail(std::string_view tail) {
  return tail == "tags" || tail.starts_with("tags/");
}

}  // namespace

CacheInvalidatingDriver::CacheInvalidatingDriver(std::shared_ptr<storage::Driver> driver,
                                                 CatalogCache& catalog, TagListCache& tag_lists,
                                                 ListingChangePublisher* publisher)
    : ForwardingDriver(std::move(driver)),
      catalog_(catalog),
      tag_lists_(tag_lists),
      publisher_(publisher) {}

void CacheInvalidatingDriver::publish(ListingChange::Kind kind, std::string_view repository) {
  if (publisher_) publisher_->publish(ListingChange{kind, std::string(repository)});
}

void CacheInvalidatingDriver::stored(const std::string& key) {
  auto parts = split(key);
  if (!parts || parts->name.empty()) return;
  if (parts->marker != "_layers" && parts->marker != "_manifests") return;
  std::string name(parts->name);
  if (catalog_.added(name)) publish(ListingChange::Kind::kRepositoryAdded, name);
  if (parts->marker == "_manifests" && is_tags_tail(parts->tail)) {
    tag_lists_.invalidate(name);
    publish(ListingChange::Kind::kTags, name);
  }
}

void CacheInvalidatingDriver::removed(const std::string& key) {
  auto parts = split(key);
  if (!parts) {
    // An ancestor of the repositories root goes with everything below it.
    if (repositories_prefix().starts_with(key == "/" ? key : key + "/")) {
      catalog_.invalidate();
      tag_lists_.invalidate_all();
      publish(ListingChange::Kind::kRepositoriesRemoved, "");
    }
    return;
  }
  if (parts->marker.empty() || parts->name.empty()) {  // whole repositories or namespaces
    catalog_.invalidate();
    tag_lists_.invalidate_all();
    publish(ListingChange::Kind::kRepositoriesRemoved, parts->name);
    return;
  }
  if (parts->marker != "_layers" && parts->marker != "_manifests") return;
  std::string name(parts->name);
  if (parts->marker == "_manifests" && (parts->tail.empty() || is_tags_tail(parts->tail))) {
    tag_lists_.invalidate(name);
    publish(ListingChange::Kind::kTags, name);
  }
  // Removing a link leaves its marker directory on a filesystem (and the repository listed), but
  // a driver may drop emptied directories, and the marker itself may be what was removed.
  if (!target().stat(storage::layout::repository(name) + "/" + std::string(parts->marker))) {
    catalog_.invalidate();
    publish(ListingChange::Kind::kRepositoriesRemoved, name);
  }
}

void CacheInvalidatingDriver::put_content(const std::string& key, std::string_view content) {
  ForwardingDriver::put_content(key, content);
  stored(key);
}

void CacheInvalidatingDriver::put_content_volatile(const std::string& key,
                                                   std::string_view content) {
  ForwardingDriver::put_content_volatile(key, content);
  stored(key);
}

std::unique_ptr<storage::Writer> CacheInvalidatingDriver::writer(const std::string& key,
                                                                 bool append) {
  auto writer = ForwardingDriver::writer(key, append);
  stored(key);  // the object exists from the moment the writer opens
  return writer;
}

std::unique_ptr<storage::Writer> CacheInvalidatingDriver::append_writer(const std::string& key) {
  auto writer = ForwardingDriver::append_writer(key);
  if (writer) stored(key);
  return writer;
}

void CacheInvalidatingDriver::move(const std::string& from, const std::string& to) {
  ForwardingDriver::move(from, to);
  removed(from);
  stored(to);
}

bool CacheInvalidatingDriver::remove(const std::string& key) {
  bool removed_any = false;
  try {
    removed_any = ForwardingDriver::remove(key);
  } catch (...) {
    removed(key);  // a subtree removal may have failed halfway
    throw;
  }
  if (removed_any) removed(key);
  return removed_any;
}

}  // namespace onsen::registry
