#include "registry/usage_index.h"

#include "registry/error.h"
#include "registry/links.h"
#include "storage/layout.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace onsen::registry {

namespace layout = storage::layout;

namespace {

// Stats of blob data per driver call: a store of a million blobs in batches the driver overlaps.
constexpr size_t kStatBatch = 1000;
// How long a quota check waits for the first walk before answering "try later".
constexpr auto kReadyWait = std::chrono::seconds(30);
// After a failed walk (storage unavailable), the next try comes this soon, not a refresh later.
constexpr auto kRetryAfterFailure = std::chrono::seconds(30);

// Names of the repositories under `key` (a directory holding _layers or _manifests, as the
// catalog counts them), walking nested names.
void list_repositories(storage::Driver& driver, const std::string& key, const std::string& prefix,
                       std::vector<std::string>& out) {
  auto children = driver.list(key);
  if (!children) return;
  bool is_repository = false;
  for (auto& child : *children) {
    if (child == "_layers" || child == "_manifests") {
      is_repository = true;
    } else if (!child.empty() && child[0] != '_' && child[0] != '.') {
      list_repositories(driver, key + "/" + child, prefix.empty() ? child : prefix + "/" + child,
                        out);
    }
  }
  if (is_repository && !prefix.empty()) out.push_back(prefix);
}

// The repository and the digest of a layer link or manifest revision key (or of its directory),
// for other replicas' kStored changes; nullopt for any other key.
std::optional<std::pair<std::string, Digest>> link_of(const std::string& key) {
  const std::string root = layout::repositories_root() + "/";
  if (!key.starts_with(root)) return std::nullopt;
  std::string_view rest = std::string_view(key).substr(root.size());
  if (rest.ends_with("/link")) rest.remove_suffix(5);
  for (std::string_view marker : {"/_layers/", "/_manifests/revisions/"}) {
    size_t at = rest.find(marker);
    if (at == std::string_view::npos) continue;
    std::string_view digest = rest.substr(at + marker.size());
    size_t slash = digest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto parsed = Digest::parse(std::string(digest.substr(0, slash)) + ":" +
                                std::string(digest.substr(slash + 1)));
    if (!parsed) return std::nullopt;
    return std::pair{std::string(rest.substr(0, at)), *parsed};
  }
  return std::nullopt;
}

}  // namespace

std::string human_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

void UsageIndex::State::link(const std::string& repo, const std::string& digest, uint64_t size) {
  Repo& r = repos[repo];
  if (!r.blobs.insert(digest).second) return;
  Blob& b = blobs[digest];
  if (b.repos++ == 0) b.size = size;
  r.bytes += b.size;
}

void UsageIndex::State::unlink(const std::string& repo, const std::string& digest) {
  auto r = repos.find(repo);
  if (r == repos.end() || r->second.blobs.erase(digest) == 0) return;
  auto b = blobs.find(digest);
  if (b == blobs.end()) return;
  r->second.bytes -= b->second.size;
  if (--b->second.repos == 0) blobs.erase(b);
}

UsageIndex::UsageIndex(std::shared_ptr<storage::Driver> driver, Quotas quotas)
    : driver_(std::move(driver)), quotas_(std::move(quotas)) {}

UsageIndex::~UsageIndex() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

UsageIndex::State UsageIndex::scan() const {
  State state;
  std::vector<std::string> names;
  list_repositories(*driver_, layout::repositories_root(), "", names);
  // Every repository's links first, so that each blob is stat'ed once however many link it.
  std::map<std::string, std::vector<std::string>> linked;
  std::vector<std::string> unsized;
  std::unordered_set<std::string> seen;
  for (auto& name : names) {
    Repo& repo = state.repos[name];
    for (auto& tag : driver_->list(layout::tags_dir(name)).value_or(std::vector<std::string>{})) {
      repo.tags.insert(tag);
    }
    auto& digests = linked[name];
    for (const auto& root : {layout::repository(name) + "/_layers", layout::revisions_root(name)}) {
      for (auto& digest : list_digest_dirs(*driver_, root)) {
        std::string text = digest.str();
        if (seen.insert(text).second) unsized.push_back(text);
        digests.push_back(std::move(text));
      }
    }
  }
  // A digest's size never changes: those the index knows are not looked up again, so a walk after
  // the first stats only new blobs (on S3 a HEAD each: a million blobs every refresh otherwise).
  std::unordered_map<std::string, uint64_t> sizes;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(unsized, [&](const std::string& digest) {
      auto known = state_.blobs.find(digest);
      if (known == state_.blobs.end()) return false;
      sizes[digest] = known->second.size;
      return true;
    });
  }
  for (size_t start = 0; start < unsized.size(); start += kStatBatch) {
    std::vector<std::string> keys;
    const size_t end = std::min(unsized.size(), start + kStatBatch);
    for (size_t i = start; i < end; ++i) {
      auto digest = Digest::parse(unsized[i]);
      keys.push_back(layout::blob_data(digest->algorithm(), digest->hex()));
    }
    auto infos = driver_->stats(keys);
    for (size_t i = start; i < end; ++i) {
      // A link whose blob is gone holds no bytes (`onsen check` reports it); not counted.
      if (auto& info = infos[i - start]; info && !info->is_dir) sizes[unsized[i]] = info->size;
    }
  }
  for (auto& [name, digests] : linked) {
    for (auto& digest : digests) {
      if (auto size = sizes.find(digest); size != sizes.end())
        state.link(name, digest, size->second);
    }
  }
  return state;
}

void UsageIndex::walk() {
  const auto started = std::chrono::system_clock::now();
  {
    std::lock_guard lock(mutex_);
    walking_ = true;
    during_walk_.clear();
  }
  State walked;
  try {
    walked = scan();
  } catch (...) {
    std::lock_guard lock(mutex_);
    walking_ = false;
    during_walk_.clear();
    throw;
  }
  std::lock_guard lock(mutex_);
  // The writes made while the walk ran may or may not be in what it listed: replayed, they are
  // (each event sets a state, so applying one twice changes nothing).
  for (auto& event : during_walk_) apply(walked, event);
  during_walk_.clear();
  walking_ = false;
  state_ = std::move(walked);
  walked_ = started;
  ready_ = true;
  ready_cv_.notify_all();
}

void UsageIndex::start(std::chrono::seconds refresh) {
  thread_ = std::thread([this, refresh] { run(refresh); });
}

void UsageIndex::refresh_soon() {
  {
    std::lock_guard lock(mutex_);
    refresh_requested_ = true;
  }
  wake_.notify_all();
}

void UsageIndex::run(std::chrono::seconds refresh) {
  auto next_walk = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_until(lock, next_walk,
                     [&] { return stop_ || refresh_requested_ || !changes_.empty(); });
    if (stop_) break;
    auto changes = std::move(changes_);
    changes_.clear();
    const bool due = refresh_requested_ || std::chrono::steady_clock::now() >= next_walk;
    refresh_requested_ = false;
    lock.unlock();
    for (auto& change : changes) {
      try {
        apply_change(change);
      } catch (const std::exception& e) {
        spdlog::warn("usage index: a change of {} not applied: {}", change.repository, e.what());
      }
    }
    if (due) {
      const auto started = std::chrono::steady_clock::now();
      try {
        walk();
        next_walk = started + refresh;
        spdlog::info(
            "usage index: storage walked in {:.2f} s",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      } catch (const std::exception& e) {
        next_walk = std::chrono::steady_clock::now() +
                    std::min<std::chrono::seconds>(refresh, kRetryAfterFailure);
        spdlog::error("usage index: storage walk failed: {}", e.what());
      }
    }
    lock.lock();
  }
}

void UsageIndex::apply(State& state, const Event& event) {
  switch (event.kind) {
    case Event::Kind::kLinked:
      state.link(event.repo, event.name, event.size);
      break;
    case Event::Kind::kUnlinked:
      state.unlink(event.repo, event.name);
      break;
    case Event::Kind::kTagged:
      state.repos[event.repo].tags.insert(event.name);
      break;
    case Event::Kind::kUntagged:
      if (auto r = state.repos.find(event.repo); r != state.repos.end())
        r->second.tags.erase(event.name);
      break;
    case Event::Kind::kTags:
      state.repos[event.repo].tags =
          std::unordered_set<std::string>(event.tags.begin(), event.tags.end());
      break;
  }
}

void UsageIndex::record(Event event) {
  std::lock_guard lock(mutex_);
  apply(state_, event);
  if (walking_) during_walk_.push_back(std::move(event));
}

std::optional<uint64_t> UsageIndex::known_size(const std::string& digest) const {
  std::lock_guard lock(mutex_);
  auto b = state_.blobs.find(digest);
  if (b == state_.blobs.end()) return std::nullopt;
  return b->second.size;
}

void UsageIndex::linked(const std::string& repo, const Digest& digest,
                        std::optional<uint64_t> size) {
  std::string text = digest.str();
  if (!size) size = known_size(text);
  if (!size) {
    auto info = driver_->stat(layout::blob_data(digest.algorithm(), digest.hex()));
    if (!info || info->is_dir) return;  // no data: nothing stored (a concurrent removal)
    size = info->size;
  }
  record({Event::Kind::kLinked, repo, std::move(text), *size});
}

void UsageIndex::unlinked(const std::string& repo, const Digest& digest) {
  record({Event::Kind::kUnlinked, repo, digest.str()});
}

void UsageIndex::tagged(const std::string& repo, const std::string& tag) {
  record({Event::Kind::kTagged, repo, tag});
}

void UsageIndex::untagged(const std::string& repo, const std::string& tag) {
  record({Event::Kind::kUntagged, repo, tag});
}

void UsageIndex::changed(const ListingChange& change) {
  {
    std::lock_guard lock(mutex_);
    if (change.kind == ListingChange::Kind::kRepositoriesRemoved) {
      refresh_requested_ = true;  // which links went with them only a walk tells
    } else if (change.kind == ListingChange::Kind::kRepositoryAdded) {
      return;  // its links and tags come as changes of their own
    } else if (change.kind == ListingChange::Kind::kStored && !link_of(change.key)) {
      return;  // not a link: blob data, an upload, a tag (which comes as kTags)
    } else {
      changes_.push_back(change);
    }
  }
  wake_.notify_all();
}

// On the background thread: looks at what the change names (a tag list, a link).
void UsageIndex::apply_change(const ListingChange& change) {
  if (change.kind == ListingChange::Kind::kTags) {
    auto tags = driver_->list(layout::tags_dir(change.repository));
    record(
        {Event::Kind::kTags, change.repository, "", 0, tags.value_or(std::vector<std::string>{})});
    return;
  }
  auto link = link_of(change.key);
  if (!link) return;
  auto& [repo, digest] = *link;
  const bool layer = change.key.find("/_layers/") != std::string::npos;
  const std::string key = layer ? layout::layer_link(repo, digest.algorithm(), digest.hex())
                                : layout::revision_link(repo, digest.algorithm(), digest.hex());
  if (read_link(*driver_, key) == digest) {
    linked(repo, digest);
  } else {
    unlinked(repo, digest);
  }
}

UsageReport UsageIndex::report(const std::vector<std::string>& only) const {
  UsageReport report;
  std::lock_guard lock(mutex_);
  report.ready = ready_;
  report.walked = walked_;
  for (auto& [name, repo] : state_.repos) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    RepositoryUsage usage{name, repo.bytes, 0, repo.blobs.size(), repo.tags.size(), std::nullopt};
    for (auto& digest : repo.blobs) {
      auto b = state_.blobs.find(digest);
      if (b != state_.blobs.end() && b->second.repos > 1) usage.shared_bytes += b->second.size;
    }
    if (const Quota* quota = quotas_.find(name)) usage.quota = *quota;
    report.repositories.push_back(std::move(usage));
  }
  for (auto& [digest, blob] : state_.blobs) report.total_bytes += blob.size;
  report.total_blobs = state_.blobs.size();
  return report;
}

std::optional<RepositoryUsage> UsageIndex::repository(const std::string& name) const {
  auto found = report({name});
  if (found.repositories.empty()) return std::nullopt;
  return std::move(found.repositories.front());
}

const Quota* UsageIndex::quota_when_ready(const std::string& repo,
                                          std::unique_lock<std::mutex>& lock) const {
  const Quota* quota = quotas_.find(repo);
  if (!quota) return nullptr;
  if (!ready_cv_.wait_for(lock, kReadyWait, [&] { return ready_; })) {
    throw Error(ErrorCode::kUnavailable,
                "storage usage not known yet (the quota of this repository needs it), retry later");
  }
  return quota;
}

void UsageIndex::check_bytes(const std::string& repo, uint64_t more) const {
  std::unique_lock lock(mutex_);
  const Quota* quota = quota_when_ready(repo, lock);
  if (!quota || !quota->bytes) return;
  auto r = state_.repos.find(repo);
  const uint64_t used = r == state_.repos.end() ? 0 : r->second.bytes;
  if (used + more <= *quota->bytes) return;
  throw Error(ErrorCode::kDenied,
              fmt::format("quota exceeded: repository {} may store {} ({} bytes, quota \"{}\"), it "
                          "stores {} ({} bytes) and this push adds {} bytes",
                          repo, human_size(*quota->bytes), *quota->bytes, quota->pattern,
                          human_size(used), used, more));
}

void UsageIndex::check_push(const std::string& repo, const Digest& digest, uint64_t size,
                            const std::string* tag,
                            const std::function<bool(const std::string&)>& tag_exists) const {
  uint64_t tags = 0;
  bool known_tag = false;
  const Quota* quota = nullptr;
  {
    std::unique_lock lock(mutex_);
    quota = quota_when_ready(repo, lock);
    if (!quota) return;
    auto r = state_.repos.find(repo);
    if (r != state_.repos.end()) {
      tags = r->second.tags.size();
      known_tag = tag && r->second.tags.contains(*tag);
      if (r->second.blobs.contains(digest.str())) size = 0;
    }
  }
  check_bytes(repo, size);
  if (!tag || !quota->tags || known_tag || tags < *quota->tags) return;
  if (tag_exists(*tag)) return;  // made by another replica: moving it adds none
  throw Error(
      ErrorCode::kDenied,
      fmt::format("quota exceeded: repository {} may have {} tags (quota \"{}\"), it has {} "
                  "and tag {} would be a new one",
                  repo, *quota->tags, quota->pattern, tags, *tag));
}

}  // namespace onsen::registry
