#include "registry/registry.h"

#include "registry/cache_invalidating_driver.h"
#include "registry/error.h"
#include "registry/names.h"
#include "registry/read_caching_driver.h"
#include "storage/layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

namespace onsen::registry {

namespace layout = storage::layout;

namespace {

// A manifest reference is a digest when it has a ':' (tags cannot), else a tag.
std::variant<std::string, Digest> parse_reference(const std::string& reference) {
  if (reference.find(':') != std::string::npos) return Digest::parse_or_throw(reference);
  if (!valid_tag(reference)) throw Error(ErrorCode::kTagInvalid, "invalid tag");
  return reference;
}

// For reads, a reference that cannot name anything is simply not there (404, as the conformance
// suite expects); a malformed digest stays DIGEST_INVALID.
std::variant<std::string, Digest> parse_reference_for_read(const std::string& reference) {
  if (reference.find(':') == std::string::npos && !valid_tag(reference)) {
    throw Error(ErrorCode::kManifestUnknown, "manifest unknown to registry");
  }
  return parse_reference(reference);
}

// Stored manifest bytes, parsed; nullopt without bytes or when they do not parse (stored by
// another registry in a form we do not parse: such a manifest cannot be a referrer).
std::optional<Manifest> parse_stored(const std::optional<std::string>& bytes) {
  if (!bytes) return std::nullopt;
  try {
    return parse_manifest(*bytes, "");
  } catch (const Error&) {
    return std::nullopt;
  }
}

// The subject of stored manifest bytes, if any.
std::optional<Digest> subject_of(const std::optional<std::string>& bytes) {
  auto manifest = parse_stored(bytes);
  if (!manifest || !manifest->subject) return std::nullopt;
  return manifest->subject->digest;
}

// The driver with the read cache in front when its reads are not cheap. Also when the cache is off
// (no entries kept) but replicas share changes: its writes' invalidations are still published, so
// replicas keeping one stay right beside a replica configured without.
std::shared_ptr<storage::Driver> read_cached(std::shared_ptr<storage::Driver> driver,
                                             const RegistryOptions& options,
                                             storage::ReadCache& cache) {
  if (driver->capabilities() & storage::kCheapReads) return driver;
  if (options.read_cache_entries == 0 && !options.listing_changes) return driver;
  return std::make_shared<ReadCachingDriver>(std::move(driver), cache, options.listing_changes);
}

[[noreturn]] void manifest_unknown() {
  throw Error(ErrorCode::kManifestUnknown, "manifest unknown to registry");
}

}  // namespace

Registry::Registry(std::shared_ptr<storage::Driver> driver, RegistryOptions options)
    : options_(options),
      listing_max_age_(options.catalog_max_age),
      catalog_(
          [this] {
            // Distribution counts a directory holding _layers as a repository; manifests too.
            std::vector<std::string> names;
            list_repositories(layout::repositories_root(), "", {"_layers", "_manifests"}, names);
            return names;
          },
          options.catalog_max_age),
      tag_lists_(options.max_cached_tag_lists),
      read_cache_(options.read_cache_bytes, options.read_cache_entries, options.catalog_max_age),
      store_(std::move(driver)),
      driver_(std::make_shared<CacheInvalidatingDriver>(read_cached(store_, options, read_cache_),
                                                        catalog_, tag_lists_,
                                                        options.listing_changes)),
      blobs_(driver_, options.usage, store_),
      uploads_(driver_, blobs_),
      manifests_(driver_, blobs_),
      tags_(driver_, options.usage),
      referrers_(driver_) {}

void Registry::check_name(const std::string& name) {
  if (!valid_repository_name(name)) throw Error(ErrorCode::kNameInvalid, "invalid repository name");
}

void Registry::check_writable() const {
  if (options_.read_only) {
    throw Error(ErrorCode::kUnsupported, "registry is in read-only mode");
  }
}

void Registry::check_delete_enabled() const {
  check_writable();
  if (!options_.delete_enabled) throw Error(ErrorCode::kUnsupported, "deletion is disabled");
}

bool Registry::repository_exists(const std::string& repo) {
  auto info = driver_->stat(layout::repository(repo));
  return info && info->is_dir;
}

uint64_t Registry::blob_size(const std::string& repo, const Digest& digest) {
  check_name(repo);
  auto size = blobs_.linked_size(repo, digest);
  if (!size) throw Error(ErrorCode::kBlobUnknown, "blob unknown to registry");
  return *size;
}

std::unique_ptr<storage::Reader> Registry::open_blob(const std::string& repo, const Digest& digest,
                                                     uint64_t offset, uint64_t length) {
  check_name(repo);
  if (!blobs_.linked(repo, digest))
    throw Error(ErrorCode::kBlobUnknown, "blob unknown to registry");
  auto reader = blobs_.open(digest, offset, length);
  if (!reader) throw Error(ErrorCode::kBlobUnknown, "blob unknown to registry");
  return reader;
}

std::optional<std::string> Registry::blob_url(const std::string& repo, const Digest& digest,
                                              std::string_view method) {
  check_name(repo);
  return blobs_.url(digest, method, kBlobUrlExpiry);
}

void Registry::delete_blob(const std::string& repo, const Digest& digest) {
  check_name(repo);
  check_delete_enabled();
  if (!blobs_.unlink(repo, digest))
    throw Error(ErrorCode::kBlobUnknown, "blob unknown to registry");
}

std::string Registry::start_upload(const std::string& repo) {
  check_name(repo);
  check_writable();
  return uploads_.start(repo);
}

uint64_t Registry::upload_size(const std::string& repo, const std::string& id) {
  check_name(repo);
  return uploads_.size(repo, id);
}

std::unique_ptr<UploadSession> Registry::open_upload(const std::string& repo,
                                                     const std::string& id) {
  check_name(repo);
  check_writable();
  return uploads_.open(repo, id);
}

void Registry::cancel_upload(const std::string& repo, const std::string& id) {
  check_name(repo);
  uploads_.cancel(repo, id);
}

bool Registry::mount_blob(const std::string& repo, const std::string& from, const Digest& digest) {
  check_name(repo);
  check_writable();
  if (!valid_repository_name(from) || !blobs_.linked(from, digest)) return false;
  // The source link made young: a collection deciding on the blob looks at its links, not at the
  // new one here (docs/ARCHITECTURE.md, "Garbage collection").
  blobs_.refresh_links(from, {digest});
  return link_mounted(repo, digest);
}

bool Registry::link_mounted(const std::string& repo, const Digest& digest) {
  blobs_.link(repo, digest);
  // Written first, then the collector's markers looked at (tombstones.h): a blob collected
  // meanwhile is no mount, the client uploads it (202), and the link goes again.
  if (blobs_.still_stored({digest})[0]) return true;
  blobs_.unlink(repo, digest);
  return false;
}

bool Registry::mount_blob_from_any(const std::string& repo, const Digest& digest) {
  check_name(repo);
  check_writable();
  if (!options_.automatic_cross_mount || !blobs_.size(digest)) return false;
  if (blobs_.linked(repo, digest)) return true;
  auto repositories = repository_list();  // held: names() refers into it
  for (const auto& from : repositories->names()) {
    if (from != repo && blobs_.linked(from, digest)) {
      blobs_.refresh_links(from, {digest});
      return link_mounted(repo, digest);
    }
  }
  return false;
}

ManifestContent Registry::get_manifest(const std::string& repo, const std::string& reference) {
  check_name(repo);
  auto ref = parse_reference_for_read(reference);
  std::optional<Digest> digest;
  if (auto* tag = std::get_if<std::string>(&ref)) {
    digest = tags_.resolve(repo, *tag);
  } else {
    digest = std::get<Digest>(ref);
  }
  std::optional<std::string> bytes;
  if (digest) bytes = manifests_.get(repo, *digest);
  if (!bytes) {
    if (!repository_exists(repo)) {
      throw Error(ErrorCode::kNameUnknown, "repository name not known to registry");
    }
    manifest_unknown();
  }
  return ManifestContent{*digest, detect_media_type(*bytes), std::move(*bytes)};
}

PutManifestResult Registry::put_manifest(const std::string& repo, const std::string& reference,
                                         std::string_view content_type, std::string_view body) {
  check_name(repo);
  check_writable();
  auto ref = parse_reference(reference);
  if (body.size() > ManifestStore::kMaxManifestSize) {
    throw Error(ErrorCode::kManifestTooLarge,
                fmt::format("manifest is larger than {} bytes", ManifestStore::kMaxManifestSize));
  }
  Manifest manifest = parse_manifest(body, content_type);

  auto* by_digest = std::get_if<Digest>(&ref);
  Digest digest = digest_of(body, by_digest ? by_digest->algorithm() : "sha256");
  if (by_digest && *by_digest != digest) {
    throw Error(ErrorCode::kDigestInvalid, "manifest digest does not match the reference");
  }

  std::lock_guard lock(repository_lock(repo));
  // The config and layers must be linked in this repository (except foreign layers, which carry
  // "urls"), an index's children must be revisions of it. Looked up in batches: a manifest may
  // reference 10,000 layers, and one lookup after the other took seconds on a cold cache.
  std::vector<Digest> blobs;
  if (manifest.config && !manifest.config->has_urls) blobs.push_back(manifest.config->digest);
  for (auto& blob : manifest.blobs) {
    if (!blob.has_urls) blobs.push_back(blob.digest);
  }
  auto linked = blobs_.linked(repo, blobs);
  if (auto it = std::find(linked.begin(), linked.end(), false); it != linked.end()) {
    throw Error(ErrorCode::kManifestBlobUnknown,
                fmt::format("blob unknown to registry: {}", blobs[it - linked.begin()].str()));
  }
  // Rule 3 of the collector's safety design (docs/ARCHITECTURE.md, "Garbage collection"): the
  // blobs this manifest keeps from now on become young, also those whose upload was long ago.
  blobs_.refresh_links(repo, blobs);
  std::vector<Digest> children;
  for (auto& child : manifest.manifests) children.push_back(child.digest);
  auto present = manifests_.exists(repo, children);
  if (auto it = std::find(present.begin(), present.end(), false); it != present.end()) {
    throw Error(ErrorCode::kManifestBlobUnknown, fmt::format("manifest unknown to registry: {}",
                                                             children[it - present.begin()].str()));
  }

  if (options_.usage) {
    options_.usage->check_push(repo, digest, body.size(), std::get_if<std::string>(&ref),
                               [&](const std::string& tag) { return !!tags_.resolve(repo, tag); });
  }
  // The index entry first: a crash after it leaves a dangling entry (ignored by readers), a crash
  // before it no revision, so a revision with a subject always has its entry.
  if (manifest.subject) referrers_.add(repo, manifest.subject->digest, digest);
  manifests_.put(repo, digest, body);
  // The links refreshed and the revision written, the collector's markers are looked at
  // (tombstones.h): a blob a collection deleted meanwhile fails the PUT, and the revision goes
  // again before a tag names it (one that existed before named the deleted blob too).
  std::vector<Digest> needed = blobs;
  needed.insert(needed.end(), children.begin(), children.end());
  needed.push_back(digest);
  auto stored = blobs_.still_stored(needed);
  if (auto it = std::find(stored.begin(), stored.end(), false); it != stored.end()) {
    manifests_.remove(repo, digest);
    if (manifest.subject) referrers_.remove(repo, manifest.subject->digest, digest);
    throw Error(ErrorCode::kManifestBlobUnknown,
                fmt::format("blob unknown to registry: {}", needed[it - stored.begin()].str()));
  }
  if (options_.usage) options_.usage->linked(repo, digest, body.size());
  if (auto* tag = std::get_if<std::string>(&ref)) {
    tags_.tag(repo, *tag, digest);
    if (options_.usage) options_.usage->tagged(repo, *tag);
  }

  PutManifestResult result{digest, std::nullopt};
  if (manifest.subject) result.subject = manifest.subject->digest;
  return result;
}

std::vector<std::string> Registry::delete_manifest(const std::string& repo,
                                                   const std::string& reference) {
  check_name(repo);
  auto ref = parse_reference(reference);
  check_delete_enabled();
  std::lock_guard lock(repository_lock(repo));
  if (auto* tag = std::get_if<std::string>(&ref)) {
    if (!tags_.untag(repo, *tag)) manifest_unknown();
    return {*tag};
  }
  const Digest& digest = std::get<Digest>(ref);
  if (!manifests_.exists(repo, digest)) manifest_unknown();
  auto subject = subject_of(manifests_.get(repo, digest));
  std::vector<std::string> untagged;
  for (auto& tag : tags_.tags_of(repo, digest)) {
    if (tags_.untag(repo, tag)) untagged.push_back(tag);
  }
  manifests_.remove(repo, digest);
  if (options_.usage) options_.usage->unlinked(repo, digest);
  // After the revision: a crash in between leaves a dangling entry, never a revision without one.
  if (subject) referrers_.remove(repo, *subject, digest);
  return untagged;
}

std::shared_ptr<const NameListing> Registry::tag_list(const std::string& repo) {
  check_name(repo);
  // Generation, clock and stat before the listing: a change after any of them is either in the
  // listing or keeps it out of the cache (see TagListCache).
  const auto generation = tag_lists_.generation();
  const auto now = std::chrono::system_clock::now();
  const bool mtime_tracks =
      driver_->capabilities() & storage::Capability::kDirectoryMtimeTracksChildren;
  std::optional<storage::FileInfo> dir;
  if (mtime_tracks) {
    dir = driver_->stat(layout::tags_dir(repo));
    if (dir) {
      if (auto cached = tag_lists_.find(repo, dir->mod_time)) {
        tag_list_hits_.fetch_add(1, std::memory_order_relaxed);
        return cached;
      }
    }
  } else if (auto cached = tag_lists_.find_listed_since(repo, now - listing_max_age_.load())) {
    tag_list_hits_.fetch_add(1, std::memory_order_relaxed);
    return cached;
  }
  tag_list_misses_.fetch_add(1, std::memory_order_relaxed);
  auto names = tags_.list(repo);
  if (!names) {
    // A repository that never had a manifest (only blobs or an upload) is unknown, as registry:2
    // answers. One whose tags were all deleted lists none: registry:2 does so on the filesystem,
    // and on stores without empty directories (S3) the tags directory is gone but its manifests
    // remain.
    auto manifests = driver_->stat(layout::manifests_root(repo));
    if (!manifests || !manifests->is_dir) {
      throw Error(ErrorCode::kNameUnknown, "repository name not known to registry");
    }
    static const auto empty = std::make_shared<const NameListing>(std::vector<std::string>{});
    return empty;
  }
  auto list = std::make_shared<const NameListing>(std::move(*names));
  if (dir) {
    tag_lists_.store(repo, dir->mod_time, now, generation, list);
  } else if (!mtime_tracks) {
    tag_lists_.store_listed(repo, now, generation, list);
  }
  return list;
}

void Registry::list_repositories(const std::string& key, const std::string& prefix,
                                 const std::vector<std::string_view>& markers,
                                 std::vector<std::string>& out) {
  auto children = driver_->list(key);
  if (!children) return;
  bool is_repository = false;
  for (auto& child : *children) {
    if (std::find(markers.begin(), markers.end(), child) != markers.end()) {
      is_repository = true;
    } else if (!child.empty() && child[0] != '_' && child[0] != '.') {
      // No stat first: listing a non-directory just yields nothing, one system call fewer.
      list_repositories(key + "/" + child, prefix.empty() ? child : prefix + "/" + child, markers,
                        out);
    }
  }
  if (is_repository && !prefix.empty()) out.push_back(prefix);
}

std::shared_ptr<const NameListing> Registry::repository_list() {
  return catalog_.get();
}

Registry::CacheCounters Registry::cache_counters() {
  const storage::ReadCache::Counters read = read_cache_.counters();
  return CacheCounters{catalog_.hits(),
                       catalog_.misses(),
                       tag_list_hits_.load(std::memory_order_relaxed),
                       tag_list_misses_.load(std::memory_order_relaxed),
                       read.hits,
                       read.misses};
}

void Registry::apply(const ListingChange& change) {
  if (options_.usage) options_.usage->changed(change);
  switch (change.kind) {
    case ListingChange::Kind::kTags:
      tag_lists_.invalidate(change.repository);
      break;
    case ListingChange::Kind::kRepositoryAdded:
      if (valid_repository_name(change.repository)) catalog_.added(change.repository);
      break;
    case ListingChange::Kind::kRepositoriesRemoved:
      catalog_.invalidate();
      tag_lists_.invalidate_all();
      break;
    case ListingChange::Kind::kStored:
      read_cache_.invalidate(change.key);
      break;
  }
}

void Registry::set_listing_changes_live(bool live) {
  const auto age = live ? options_.shared_listing_max_age : options_.catalog_max_age;
  if (live) {
    catalog_.invalidate();
    tag_lists_.invalidate_all();
    read_cache_.clear();
  }
  listing_max_age_ = age;
  catalog_.set_max_age(age);
  read_cache_.set_max_age(age);
}

size_t Registry::purge_uploads(std::chrono::system_clock::time_point cutoff, bool dry_run) {
  std::vector<std::string> repos;
  list_repositories(layout::repositories_root(), "", {"_uploads"}, repos);
  size_t purged = 0;
  for (auto& repo : repos) {
    for (auto& id : driver_->list(layout::uploads_dir(repo)).value_or(std::vector<std::string>{})) {
      // The startedat file is written when the upload starts; its age is the upload's age.
      auto started = driver_->stat(layout::upload_started_at(repo, id));
      auto dir = driver_->stat(layout::upload_dir(repo, id));
      auto when = started ? started->mod_time : (dir ? dir->mod_time : cutoff);
      if (when >= cutoff) continue;
      ++purged;
      if (!dry_run) driver_->remove(layout::upload_dir(repo, id));
    }
  }
  return purged;
}

std::vector<Descriptor> Registry::referrers(const std::string& repo, const Digest& digest,
                                            const std::string& artifact_type) {
  check_name(repo);
  std::vector<Descriptor> result;
  for (auto& revision : referrers_.list(repo, digest)) {
    // Each entry is checked against the revision it names: a dangling entry (revision deleted, or
    // a crash before it was linked) or a wrong one is not served.
    auto bytes = manifests_.get(repo, revision);
    auto manifest = parse_stored(bytes);
    if (!manifest || !manifest->subject || manifest->subject->digest != digest) continue;
    if (!artifact_type.empty() && manifest->artifact_type != artifact_type) continue;
    result.push_back(Descriptor{manifest->media_type, revision, static_cast<int64_t>(bytes->size()),
                                manifest->artifact_type, manifest->annotations_json, false});
  }
  return result;  // sorted by digest, as the index lists them
}

}  // namespace onsen::registry
