#include "registry/garbage_collector.h"

#include "registry/blob_store.h"
#include "registry/digest.h"
#include "registry/error.h"
#include "registry/manifest.h"
#include "registry/manifest_store.h"
#include "registry/names.h"
#include "registry/staging.h"
#include "registry/tombstones.h"
#include "storage/layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace onsen::registry {

namespace layout = storage::layout;
using Clock = std::chrono::system_clock;

namespace {

constexpr std::string_view kAlgorithms[] = {"sha256", "sha512"};
// Keys per batched lookup: large enough to keep the driver's lookups overlapping, small enough
// to bound the memory a batch of manifests takes.
constexpr size_t kBatch = 1024;

// The directory of a "<...>/link" key.
std::string link_dir(const std::string& link_key) {
  return link_key.substr(0, link_key.size() - std::string_view("/link").size());
}

// The digests named by the "<alg>/<hex>" directories under root, sorted.
std::vector<Digest> digest_dirs(storage::Driver& driver, const std::string& root) {
  std::vector<Digest> result;
  for (auto alg : kAlgorithms) {
    for (auto& hex :
         driver.list(root + "/" + std::string(alg)).value_or(std::vector<std::string>{})) {
      if (auto digest = Digest::parse(std::string(alg) + ":" + hex)) result.push_back(*digest);
    }
  }
  std::sort(result.begin(), result.end());
  return result;
}

// get_contents / stats over any number of keys, kBatch at a time.
template <typename T, typename Lookup>
std::vector<std::optional<T>> in_batches(const std::vector<std::string>& keys, Lookup lookup) {
  std::vector<std::optional<T>> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); i += kBatch) {
    std::vector<std::string> chunk(keys.begin() + i,
                                   keys.begin() + std::min(keys.size(), i + kBatch));
    for (auto& r : lookup(chunk)) out.push_back(std::move(r));
  }
  return out;
}

// Threads of the reads and listings: they wait for the store one after the other (a cold
// directory is a disk read, an S3 list a round trip), so many go at once.
constexpr size_t kThreads = 8;

// fn(i) for i in [0, n) on up to `threads` threads. Rethrows the first exception once every
// thread has ended.
template <typename Fn>
void parallel_for(size_t n, Fn fn, size_t threads = kThreads) {
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next = n;
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    for (size_t t = 1; t < std::min(threads, n); ++t) {
      try {
        pool.emplace_back(work);
      } catch (const std::system_error&) {
        break;  // no thread to spare: those started, and this one, do the work
      }
    }
    work();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

// What a manifest references, as far as the collector cares (nothing when its bytes are missing).
struct References {
  std::vector<Digest> blobs;     // config and layers (artifact blobs); for a manifest that does
                                 // not parse, every digest its bytes mention
  std::vector<Digest> children;  // index / manifest list entries
  std::optional<Digest> subject;
};

// One repository as listed: its revisions, tags and layer links, with mtimes.
struct Inventory {
  std::string name;
  bool has_manifests = false;  // a repository for Distribution (it lists it in its output)
  std::map<Digest, Clock::time_point> revisions;      // revision directories (see inventory())
  std::map<std::string, std::optional<Digest>> tags;  // tag -> current (nullopt: unreadable)
  std::map<std::string, Clock::time_point> tag_mtimes;
  std::map<std::string, std::vector<Digest>> tag_index;  // tag -> index entries
  std::map<Digest, Clock::time_point> layers;            // layer links
};

struct GarbageCollector::Run {
  storage::Driver& driver;
  storage::Driver& reads;
  const GcOptions& options;
  GcResult result;
  Clock::time_point threshold;  // written at or after this: young, kept
  // For blob data and layer links, with a grace window: started - max(grace, the refresh age), so
  // that a push which did not rewrite a link or data younger than BlobStore::kLinkRefreshAge
  // still keeps its blob.
  Clock::time_point blob_threshold;
  Clock::time_point started;
  // Tags retention deleted (or in a dry run would), per repository, with their push times.
  std::map<std::string, std::map<std::string, Clock::time_point>> retained_out;
  std::map<std::string, std::set<Digest>> retired;  // the manifests those tags named

  std::map<Digest, References> references;       // manifests read so far
  std::set<Digest> marked;                       // Distribution's markSet
  std::map<std::string, std::set<Digest>> kept;  // repository -> kept revisions

  void output(std::string_view line) const {
    if (options.output) options.output(line);
  }
  void log(std::string_view line) const {
    if (options.log) options.log(line);
  }
  bool stopped() const { return options.should_stop && options.should_stop(); }
  size_t removers() const { return std::max<size_t>(1, options.removal_threads); }
  // Objects per look-again-and-remove step. Watching, small: the time between a chunk's look and
  // its removals is the residual window. Not watching there is no look again, and one step
  // keeps every remover busy to the end instead of waiting for each chunk's slowest removal.
  static size_t chunk_size(bool watching, size_t n) {
    return watching ? 32 : std::max<size_t>(1, n);
  }
  // Seconds since the run started, for the log's progress lines.
  std::chrono::steady_clock::time_point began = std::chrono::steady_clock::now();
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  }

  // ------------------------------------------------------------------ listing
  // Repository names in the order of Distribution's walk (sorted children, depth first, a
  // repository where its "_manifests" sorts), with those holding only _layers too. The tree is
  // listed a level at a time, each level's directories at once.
  std::vector<std::pair<std::string, bool>> repository_names() {
    std::map<std::string, std::vector<std::string>> children;  // name ("" the root) -> sorted
    std::vector<std::string> level{""};
    while (!level.empty()) {
      std::vector<std::vector<std::string>> listed(level.size());
      parallel_for(level.size(), [&](size_t i) {
        const std::string key =
            level[i].empty() ? layout::repositories_root() : layout::repository(level[i]);
        listed[i] = reads.list(key).value_or(std::vector<std::string>{});
        std::sort(listed[i].begin(), listed[i].end());
      });
      std::vector<std::string> next;
      for (size_t i = 0; i < level.size(); ++i) {
        for (auto& child : listed[i]) {
          if (!child.empty() && child[0] != '_' && child[0] != '.') {
            next.push_back(level[i].empty() ? child : level[i] + "/" + child);
          }
        }
        children[level[i]] = std::move(listed[i]);
      }
      level = std::move(next);
    }
    std::vector<std::pair<std::string, bool>> out;
    walk_names("", children, out);
    return out;
  }

  static void walk_names(const std::string& name,
                         const std::map<std::string, std::vector<std::string>>& children,
                         std::vector<std::pair<std::string, bool>>& out) {
    const auto& mine = children.at(name);
    bool layers = false, manifests = false;
    for (auto& child : mine) {
      if (child == "_manifests" && !name.empty()) {
        manifests = true;
        out.emplace_back(name, true);
      } else if (child == "_layers") {
        layers = true;
      } else if (!child.empty() && child[0] != '_' && child[0] != '.') {
        walk_names(name.empty() ? child : name + "/" + child, children, out);
      }
    }
    if (layers && !manifests && !name.empty()) out.emplace_back(name, false);
  }

  // Lists every repository: names, revisions, tags (with their index when with_index), layer
  // links; reads the revision and tag links, and with mtimes stats every link, in batches.
  // Without mtimes every link counts as old (a still store: grace 0).
  std::vector<Inventory> inventory(bool with_index, bool with_mtimes) {
    const auto names = repository_names();
    std::vector<Inventory> repos(names.size());
    parallel_for(names.size(), [&](size_t r) {
      auto& [name, has_manifests] = names[r];
      Inventory& repo = repos[r];
      repo.name = name;
      repo.has_manifests = has_manifests;
      for (auto& d : digest_dirs(reads, layout::revisions_root(name))) {
        repo.revisions.emplace(d, Clock::time_point{});
      }
      for (auto& tag : reads.list(layout::tags_dir(name)).value_or(std::vector<std::string>{})) {
        if (!valid_tag(tag)) continue;
        repo.tags.emplace(tag, std::nullopt);
        if (with_index) {
          repo.tag_index[tag] = digest_dirs(reads, layout::tag_dir(name, tag) + "/index");
        }
      }
      for (auto& d : digest_dirs(reads, layout::repository(name) + "/_layers")) {
        repo.layers.emplace(d, Clock::time_point{});
      }
    });
    // The tags' current links are read. A revision's link is not (its path names the digest, as
    // a layer link's does): a revision directory without its link (an interrupted delete) counts
    // as a revision, which only keeps more, or with delete_untagged removes the empty directory.
    std::vector<std::string> tag_keys, revision_keys;
    for (auto& repo : repos) {
      for (auto& [tag, _] : repo.tags) tag_keys.push_back(layout::tag_current_link(repo.name, tag));
      if (!with_mtimes) continue;
      for (auto& [d, _] : repo.revisions) {
        revision_keys.push_back(layout::revision_link(repo.name, d.algorithm(), d.hex()));
      }
    }
    auto contents = in_batches<std::string>(
        tag_keys, [this](const std::vector<std::string>& k) { return reads.get_contents(k); });
    std::vector<std::optional<storage::FileInfo>> tag_stats, revision_stats;
    if (with_mtimes) {
      tag_stats = in_batches<storage::FileInfo>(
          tag_keys, [this](const std::vector<std::string>& k) { return reads.stats(k); });
      revision_stats = in_batches<storage::FileInfo>(
          revision_keys, [this](const std::vector<std::string>& k) { return reads.stats(k); });
    }
    size_t i = 0, j = 0;
    for (auto& repo : repos) {
      for (auto& [tag, current] : repo.tags) {
        if (contents[i]) current = Digest::parse(*contents[i]);
        repo.tag_mtimes[tag] =
            with_mtimes && tag_stats[i] ? tag_stats[i]->mod_time : Clock::time_point{};
        ++i;
      }
      if (!with_mtimes) continue;
      take_mtimes(repo.revisions, revision_stats, j);
    }
    if (!with_mtimes) return repos;
    // The layer links' mtimes (their content is not needed: the path names the digest).
    std::vector<std::string> link_keys;
    for (auto& repo : repos) {
      for (auto& [d, _] : repo.layers) {
        link_keys.push_back(layout::layer_link(repo.name, d.algorithm(), d.hex()));
      }
    }
    auto layer_stats = in_batches<storage::FileInfo>(
        link_keys, [this](const std::vector<std::string>& k) { return reads.stats(k); });
    i = 0;
    for (auto& repo : repos) take_mtimes(repo.layers, layer_stats, i);
    return repos;
  }

  // Gives each link of `links` its mtime from stats[next...] (in the map's order), dropping those
  // that are gone (an empty directory, what an interrupted delete leaves).
  static void take_mtimes(std::map<Digest, Clock::time_point>& links,
                          const std::vector<std::optional<storage::FileInfo>>& stats,
                          size_t& next) {
    for (auto it = links.begin(); it != links.end(); ++next) {
      if (!stats[next]) {
        it = links.erase(it);
      } else {
        it->second = stats[next]->mod_time;
        ++it;
      }
    }
  }

  // ------------------------------------------------------------------ manifests
  // Reads and parses the manifests of digests not read yet, in batches.
  void load(const std::vector<Digest>& digests) {
    std::vector<Digest> todo;
    for (auto& d : digests) {
      if (!references.count(d)) todo.push_back(d);
    }
    std::sort(todo.begin(), todo.end());
    todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
    // One read each, many at once: a reader tells the size, so a link naming a large layer (no
    // manifest) is not read whole.
    std::vector<std::optional<References>> found(todo.size());
    parallel_for(todo.size(), [&](size_t i) {
      auto reader = reads.reader(layout::blob_data(todo[i].algorithm(), todo[i].hex()), 0);
      if (!reader || reader->size() > ManifestStore::kMaxManifestSize) return;
      std::string body(reader->size(), '\0');
      size_t got = 0;
      while (got < body.size()) {
        size_t n = reader->read(body.data() + got, body.size() - got);
        if (n == 0) return;  // shorter than its size: changed under us, not trusted
        got += n;
      }
      found[i] = parse(body);
    });
    for (size_t i = 0; i < todo.size(); ++i) {
      references[todo[i]] = found[i] ? std::move(*found[i]) : References{};
    }
  }

  static References parse(const std::string& body) {
    References refs;
    try {
      Manifest m = parse_manifest(body, "");
      if (m.config) refs.blobs.push_back(m.config->digest);
      for (auto& blob : m.blobs) refs.blobs.push_back(blob.digest);
      for (auto& child : m.manifests) refs.children.push_back(child.digest);
      if (m.subject) refs.subject = m.subject->digest;
    } catch (const Error&) {
      // A manifest this registry does not parse (schema1, written by another registry): what it
      // references is unknown, so every digest it mentions is kept.
      for (size_t pos = 0; (pos = body.find("sha", pos)) != std::string::npos; ++pos) {
        for (size_t len : {71, 135}) {  // "sha256:" + 64, "sha512:" + 128
          if (auto d = Digest::parse(std::string_view(body).substr(pos, len))) {
            refs.blobs.push_back(*d);
            break;
          }
        }
      }
    }
    return refs;
  }

  // ------------------------------------------------------------------ mark
  void mark_blob(const Digest& d) { marked.insert(d); }

  // Keeps manifest `root` of repo and everything it reaches: its blobs, its children, and the
  // revisions whose subject it is (`referrers`: subject -> revisions of the repository).
  void keep(const Inventory& repo, const Digest& root,
            const std::map<Digest, std::vector<Digest>>& referrers) {
    auto& kept_here = kept[repo.name];
    std::deque<Digest> queue{root};
    while (!queue.empty()) {
      Digest d = queue.front();
      queue.pop_front();
      if (!kept_here.insert(d).second) continue;
      if (!references.count(d)) load({d});
      const References& refs = references.at(d);
      output(fmt::format("{}: marking manifest {} ", repo.name, d.str()));
      mark_blob(d);
      for (auto& blob : refs.blobs) {
        output(fmt::format("{}: marking blob {}", repo.name, blob.str()));
        mark_blob(blob);
      }
      for (auto& child : refs.children) {
        output(fmt::format("{}: marking blob {}", repo.name, child.str()));
        mark_blob(child);
        queue.push_back(child);
      }
      if (auto it = referrers.find(d); it != referrers.end()) {
        for (auto& referrer : it->second) queue.push_back(referrer);
      }
    }
  }

  bool young(Clock::time_point t) const { return t >= threshold; }
  bool young_blob(Clock::time_point t) const { return t >= blob_threshold; }

  // ------------------------------------------------------------------ retention
  // Whether a policy's limit on untagged revisions has passed for one written at `mtime`.
  bool expired_untagged(const std::string& repo, Clock::time_point mtime) const {
    const RetentionPolicy* policy = policy_for(options.retention, repo);
    return policy && policy->untagged_older_than && mtime < started - *policy->untagged_older_than;
  }

  // Whether retention deleted a tag naming d in repo: then d goes as an untagged revision would
  // with delete_untagged (a policy frees space; another tag or a kept index still keeps d).
  bool retired_by_retention(const std::string& repo, const Digest& d) const {
    auto it = retired.find(repo);
    return it != retired.end() && it->second.count(d);
  }

  // Deletes the tags no policy keeps, and takes them out of the inventory, so the mark does not
  // keep what only they named (in a dry run too: it reports what the collection would free). A
  // tag pushed again since it was listed (its current link's mtime moved) is left alone: the
  // newest push is never this run's to delete.
  void apply_retention(std::vector<Inventory>& repos) {
    if (options.retention.empty()) return;
    const bool dry = options.dry_run || options.retention_dry_run;
    for (auto& repo : repos) {
      const RetentionPolicy* policy = policy_for(options.retention, repo.name);
      if (!policy) continue;
      std::vector<PushedTag> tags;
      for (auto& [tag, current] : repo.tags) {
        if (current) tags.push_back({tag, repo.tag_mtimes.at(tag)});
      }
      for (auto& tag : tags_to_delete(*policy, tags, started)) {
        const Clock::time_point pushed = repo.tag_mtimes.at(tag);
        if (!dry) {
          auto info = reads.stat(layout::tag_current_link(repo.name, tag));
          if (!info || info->mod_time != pushed) continue;
        }
        const std::string line = fmt::format("{}: deleting tag {} (retention)", repo.name, tag);
        if (options.output) {
          output(line);
        } else {
          log(line);  // an online collection's log holds what its policies deleted
        }
        if (!dry) staging::remove(driver, repo.name, layout::tag_dir(repo.name, tag));
        ++result.tags_deleted;
        // Only the policies in a dry run, the collection for real: the tag stays, and so does
        // what it keeps.
        if (options.retention_dry_run && !options.dry_run) continue;
        retained_out[repo.name].emplace(tag, pushed);
        retired[repo.name].insert(*repo.tags.at(tag));
        drop_tag(repo, tag);
      }
    }
  }

  static void drop_tag(Inventory& repo, const std::string& tag) {
    repo.tags.erase(tag);
    repo.tag_mtimes.erase(tag);
    repo.tag_index.erase(tag);
  }

  // A dry run's store still has the tags retention would delete: listed again, they go out of
  // that inventory too (unless pushed again meanwhile).
  void drop_retained_out(std::vector<Inventory>& repos) {
    for (auto& repo : repos) {
      auto it = retained_out.find(repo.name);
      if (it == retained_out.end()) continue;
      for (auto& [tag, pushed] : it->second) {
        auto mtime = repo.tag_mtimes.find(tag);
        if (mtime != repo.tag_mtimes.end() && mtime->second == pushed) drop_tag(repo, tag);
      }
    }
  }

  // Marks from the roots of repo (rule 1). With `before` (the listing the mark started from), the
  // re-mark: only what is young or was not listed then is a root.
  void mark(const Inventory& repo, const Inventory* before) {
    std::vector<Digest> digests;
    for (auto& [d, _] : repo.revisions) digests.push_back(d);
    for (auto& [_, current] : repo.tags) {
      if (current) digests.push_back(*current);
    }
    load(digests);
    std::map<Digest, std::vector<Digest>> referrers;
    for (auto& [d, _] : repo.revisions) {
      if (auto& subject = references.at(d).subject) referrers[*subject].push_back(d);
    }
    std::vector<Digest> roots;
    for (auto& [tag, current] : repo.tags) {
      if (!current) continue;
      if (!before || young(repo.tag_mtimes.at(tag)) || !before->tags.count(tag)) {
        roots.push_back(*current);
      }
    }
    for (auto& [d, mtime] : repo.revisions) {
      if (before) {
        if (young(mtime) || !before->revisions.count(d)) roots.push_back(d);
        continue;
      }
      const bool referrer = references.at(d).subject.has_value();
      const bool untagged_go = options.delete_untagged || expired_untagged(repo.name, mtime) ||
                               retired_by_retention(repo.name, d);
      if (young(mtime) || (referrer && !options.delete_orphan_referrers) ||
          (!referrer && !untagged_go)) {
        roots.push_back(d);
      }
    }
    for (auto& root : roots) keep(repo, root, referrers);
    // Rule 2: a young layer link keeps its blob (an upload or mount whose manifest is to come).
    for (auto& [d, mtime] : repo.layers) {
      if (young_blob(mtime) || (before && !before->layers.count(d))) mark_blob(d);
    }
  }

  // ------------------------------------------------------------------ sweep
  // The collector's markers of blobs it is about to delete (tombstones.h), written and removed
  // at once.
  void put_tombstones(const std::vector<Digest>& digests) {
    parallel_for(digests.size(),
                 [&](size_t i) { driver.put_content(tombstones::key(digests[i]), ""); });
  }
  void remove_tombstones(const std::vector<Digest>& digests) {
    std::vector<std::string> keys;
    for (auto& d : digests) keys.push_back(tombstones::key(d));
    remove_all(keys);
  }
  // Markers a killed collector left (older than tombstones::kStale): writers ignore them already.
  void remove_stale_tombstones() {
    std::vector<std::string> keys;
    for (auto alg : kAlgorithms) {
      const std::string dir = tombstones::root() + "/" + std::string(alg);
      for (auto& hex : reads.list(dir).value_or(std::vector<std::string>{})) {
        keys.push_back(dir + "/" + hex);
      }
    }
    auto infos = in_batches<storage::FileInfo>(
        keys, [this](const std::vector<std::string>& k) { return reads.stats(k); });
    std::vector<std::string> stale;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (infos[i] && infos[i]->mod_time < Clock::now() - tombstones::kStale) {
        stale.push_back(keys[i]);
      }
    }
    remove_all(stale);
  }

  // Removes keys at once (each an S3 round trip or four): their order does not matter.
  void remove_all(const std::vector<std::string>& keys) {
    if (!options.dry_run) {
      parallel_for(
          keys.size(), [&](size_t i) { driver.remove(keys[i]); }, removers());
    }
  }

  // Revisions of repo that existed through the mark and are not kept.
  std::vector<Digest> unkept(const Inventory& now, const Inventory& before) {
    std::vector<Digest> out;
    const auto& kept_here = kept[now.name];
    for (auto& [d, _] : now.revisions) {
      if (before.revisions.count(d) && !kept_here.count(d)) out.push_back(d);
    }
    return out;
  }

  // Deletes the revisions not kept, 32 at a time, at once. Watching, each chunk's revision links
  // are looked at again right before: one written since (a PUT of the same manifest, by tag too)
  // keeps the revision and, marked now, what it references.
  bool delete_manifests(const std::vector<Inventory>& now,
                        const std::map<std::string, const Inventory*>& before, bool watching) {
    std::vector<std::pair<const Inventory*, Digest>> doomed;
    for (auto& repo : now) {
      auto it = before.find(repo.name);
      if (it == before.end()) continue;
      for (auto& d : unkept(repo, *it->second)) doomed.emplace_back(&repo, d);
    }
    const size_t step = chunk_size(watching, doomed.size());
    for (size_t first = 0; first < doomed.size(); first += step) {
      const size_t last = std::min(doomed.size(), first + step);
      std::vector<std::string> keys;
      for (size_t i = first; i < last; ++i) {
        auto& [repo, d] = doomed[i];
        keys.push_back(layout::revision_link(repo->name, d.algorithm(), d.hex()));
      }
      auto seen =
          watching ? reads.stats(keys) : std::vector<std::optional<storage::FileInfo>>(keys.size());
      std::vector<std::vector<std::string>> removals;  // per manifest, in order
      bool stop = false;
      for (size_t i = first; i < last; ++i) {
        auto& [repo, d] = doomed[i];
        if (seen[i - first] && young(seen[i - first]->mod_time)) {
          log(fmt::format("keeping manifest {}@{}: written since the mark", repo->name, d.str()));
          keep(*repo, d, {});
          continue;
        }
        if ((stop = stopped())) break;
        // Tag index entries first, then the revision, then its referrers index entry: each
        // step leaves a state `onsen check` accepts, and the next run redoes what is left.
        auto& steps = removals.emplace_back();
        for (auto& [tag, index] : repo->tag_index) {
          if (std::find(index.begin(), index.end(), d) != index.end()) {
            steps.push_back(
                link_dir(layout::tag_index_link(repo->name, tag, d.algorithm(), d.hex())));
          }
        }
        steps.push_back(link_dir(keys[i - first]));
        if (!options.dry_run) log(fmt::format("deleting manifest: {}", steps.back()));
        if (auto& subject = references.at(d).subject) {
          steps.push_back(link_dir(layout::referrer_link(repo->name, subject->algorithm(),
                                                         subject->hex(), d.algorithm(), d.hex())));
        }
        ++result.manifests_deleted;
      }
      if (!options.dry_run) {
        parallel_for(
            removals.size(),
            [&](size_t i) {
              for (auto& key : removals[i]) driver.remove(key);
            },
            removers());
      }
      if (stop) return false;
    }
    return true;
  }

  // Every blob in the store.
  std::vector<Digest> stored_blobs() {
    std::vector<std::pair<std::string, std::string>> prefixes;  // (alg, prefix)
    const std::string root = layout::blobs_root();
    for (auto alg : kAlgorithms) {
      for (auto& prefix :
           reads.list(root + "/" + std::string(alg)).value_or(std::vector<std::string>{})) {
        prefixes.emplace_back(alg, prefix);
      }
    }
    std::vector<std::vector<Digest>> found(prefixes.size());
    parallel_for(prefixes.size(), [&](size_t i) {
      auto& [alg, prefix] = prefixes[i];
      for (auto& hex :
           reads.list(root + "/" + alg + "/" + prefix).value_or(std::vector<std::string>{})) {
        auto d = Digest::parse(alg + ":" + hex);
        if (d && hex.starts_with(prefix)) found[i].push_back(*d);
      }
    });
    std::vector<Digest> out;
    for (auto& f : found) out.insert(out.end(), f.begin(), f.end());
    std::sort(out.begin(), out.end());
    return out;
  }

  // Deletes the unmarked blobs older than grace; returns those deleted (or, dry, eligible).
  // Each is looked at again right before its removal, a chunk at a time: its data and its layer
  // links in every repository (`now`). One written since (a manifest PUT refreshes the old links
  // of its blobs, a mount that of its source: BlobStore::refresh_links) keeps it; what is left is
  // the residual window (docs/ARCHITECTURE.md, "Garbage collection").
  std::optional<std::set<Digest>> delete_blobs(const std::vector<Digest>& blobs,
                                               const std::vector<Inventory>& now, bool watching) {
    std::vector<Digest> candidates;
    std::vector<std::string> keys;
    for (auto& d : blobs) {
      if (marked.count(d)) continue;
      candidates.push_back(d);
      keys.push_back(layout::blob_data(d.algorithm(), d.hex()));
    }
    auto infos = in_batches<storage::FileInfo>(
        keys, [this](const std::vector<std::string>& k) { return reads.stats(k); });
    struct Eligible {
      Digest digest;
      uint64_t size;
      bool data;  // false: a directory without data, a blob whose delete was interrupted
    };
    std::vector<Eligible> eligible;
    size_t with_data = 0;
    for (size_t i = 0; i < candidates.size(); ++i) {
      // No data: a deleted blob (a run killed between its data and its directory); its directory
      // and the links naming it go like a blob's, after the same look again (data written since,
      // a move into place under way, keeps it).
      if (infos[i] && (infos[i]->is_dir || young_blob(infos[i]->mod_time))) continue;
      eligible.push_back({candidates[i], infos[i] ? infos[i]->size : 0, infos[i].has_value()});
      with_data += infos[i].has_value();
    }
    result.blobs_marked = marked.size();
    output(fmt::format("\n{} blobs marked, {} blobs and {} manifests eligible for deletion",
                       marked.size(), with_data, result.manifests_deleted));
    std::map<Digest, std::vector<std::string>> links;
    for (auto& repo : now) {
      for (auto& [d, _] : repo.layers) {
        if (!marked.count(d))
          links[d].push_back(layout::layer_link(repo.name, d.algorithm(), d.hex()));
      }
    }
    std::set<Digest> deleted;
    const size_t step = chunk_size(watching, eligible.size());
    for (size_t first = 0; first < eligible.size(); first += step) {
      const size_t last = std::min(eligible.size(), first + step);
      std::vector<std::string> again;
      for (size_t i = first; i < last; ++i) {
        const Digest& d = eligible[i].digest;
        again.push_back(layout::blob_data(d.algorithm(), d.hex()));
        auto it = links.find(d);
        if (it != links.end()) again.insert(again.end(), it->second.begin(), it->second.end());
      }
      // Markers first, then the last look (tombstones.h): a push that makes one of these blobs
      // needed either wrote before the look (seen young here) or finds the marker. Removed
      // whatever happens, and before the next chunk.
      std::vector<Digest> chunk;
      for (size_t i = first; i < last; ++i) chunk.push_back(eligible[i].digest);
      const bool marking = watching && !options.dry_run;
      if (marking) put_tombstones(chunk);
      struct Clear {
        Run* run;
        const std::vector<Digest>* chunk;
        ~Clear() {
          if (!chunk) return;
          try {
            run->remove_tombstones(*chunk);
          } catch (const std::exception&) {
            // left for writers to ignore once stale, and for the next run to remove
          }
        }
      } clear{this, marking ? &chunk : nullptr};
      auto seen = watching ? reads.stats(again)
                           : std::vector<std::optional<storage::FileInfo>>(again.size());
      std::vector<std::string> dirs;
      bool stop = false;
      size_t k = 0;
      for (size_t i = first; i < last; ++i) {
        const auto& [d, size, data] = eligible[i];
        auto it = links.find(d);
        const size_t n = 1 + (it == links.end() ? 0 : it->second.size());
        bool written = !data && seen[k];  // data stored since the first look
        for (size_t j = k; j < k + n; ++j) {
          written = written || (seen[j] && young_blob(seen[j]->mod_time));
        }
        k += n;
        if (written) {
          log(fmt::format("keeping blob {}: written since the mark", d.str()));
          continue;
        }
        if (stopped()) {
          stop = true;
          break;
        }
        const std::string dir = layout::blob_dir(d.algorithm(), d.hex());
        dirs.push_back(dir);
        deleted.insert(d);
        if (!data) {
          if (!options.dry_run) log(fmt::format("removing the directory of deleted blob {}", dir));
          continue;
        }
        output(fmt::format("blob eligible for deletion: {}", d.str()));
        if (!options.dry_run) log(fmt::format("Deleting blob: {}", dir));
        ++result.blobs_deleted;
        result.bytes_freed += size;
      }
      remove_all(dirs);
      if (stop) return std::nullopt;
    }
    return deleted;
  }

  // The layer links and tag index entries naming an unmarked blob that is gone (deleted now or
  // before), in every repository. Each is looked at again first: a link written since the
  // inventory, or whose blob is stored again (pushed anew after its deletion), stays.
  bool delete_links(const std::vector<Inventory>& now, const std::set<Digest>& stored,
                    const std::set<Digest>& deleted) {
    auto gone = [&](const Digest& d) {
      return !marked.count(d) && (deleted.count(d) || !stored.count(d));
    };
    struct Doomed {
      const std::string* repo;
      Digest digest;
      std::string link;
      bool layer;
    };
    std::vector<Doomed> doomed;
    for (auto& repo : now) {
      for (auto& [d, mtime] : repo.layers) {
        if (gone(d) && !young(mtime)) {
          doomed.push_back(
              {&repo.name, d, layout::layer_link(repo.name, d.algorithm(), d.hex()), true});
        }
      }
      for (auto& [tag, index] : repo.tag_index) {
        for (auto& d : index) {
          if (gone(d)) {
            doomed.push_back({&repo.name, d,
                              layout::tag_index_link(repo.name, tag, d.algorithm(), d.hex()),
                              false});
          }
        }
      }
    }
    std::vector<std::string> keys;
    for (auto& x : doomed) keys.push_back(x.link);
    for (auto& x : doomed) keys.push_back(layout::blob_data(x.digest.algorithm(), x.digest.hex()));
    auto infos = in_batches<storage::FileInfo>(
        keys, [this](const std::vector<std::string>& k) { return reads.stats(k); });
    std::vector<std::string> dirs;
    bool stop = false;
    for (size_t i = 0; i < doomed.size(); ++i) {
      const auto& link = infos[i];
      const auto& data = infos[doomed.size() + i];
      if (!link || young(link->mod_time) || (data && !options.dry_run)) continue;
      if ((stop = stopped())) break;
      if (doomed[i].layer) {
        output(fmt::format("{}: layer link eligible for deletion: {}", *doomed[i].repo,
                           doomed[i].digest.str()));
      }
      dirs.push_back(link_dir(doomed[i].link));
      ++result.links_deleted;
    }
    remove_all(dirs);
    return !stop;
  }

  void run() {
    started = Clock::now();
    threshold = started - options.grace;

    // With a grace window servers may be writing: links' ages count, and what changed during the
    // mark is marked again. Without, the store is still (Distribution's rule): one listing.
    const bool watching = options.grace.count() > 0;
    blob_threshold =
        watching ? started - std::max<Clock::duration>(options.grace, BlobStore::kLinkRefreshAge)
                 : threshold;
    if (watching) remove_stale_tombstones();

    // Mark.
    auto before = inventory(!watching, watching || !options.retention.empty());
    result.repositories = before.size();
    apply_retention(before);
    // Every manifest read at once (in batches the driver overlaps), not repository by repository.
    std::vector<Digest> manifests;
    for (auto& repo : before) {
      for (auto& [d, _] : repo.revisions) manifests.push_back(d);
      for (auto& [_, current] : repo.tags) {
        if (current) manifests.push_back(*current);
      }
    }
    load(manifests);
    log(fmt::format("garbage collection: {} repositories listed, {} manifests read ({:.2f} s)",
                    before.size(), references.size(), elapsed()));
    for (auto& repo : before) {
      if (stopped()) return;
      if (repo.has_manifests) output(repo.name);
      mark(repo, nullptr);
    }
    // Re-mark what was written while marking (rule 4): a push that ran meanwhile is safe.
    if (stopped()) return;
    std::map<std::string, const Inventory*> before_by_name;
    for (auto& repo : before) before_by_name[repo.name] = &repo;
    std::vector<Inventory> listed_again;
    if (watching) {
      listed_again = inventory(true, true);
      drop_retained_out(listed_again);
      static const Inventory kNone;
      for (auto& repo : listed_again) {
        auto it = before_by_name.find(repo.name);
        mark(repo, it == before_by_name.end() ? &kNone : it->second);
      }
    }
    const std::vector<Inventory>& now = watching ? listed_again : before;
    for (auto& repo : now) {
      auto it = before_by_name.find(repo.name);
      if (it == before_by_name.end()) continue;
      for (auto& d : unkept(repo, *it->second)) {
        output(fmt::format("manifest eligible for deletion: {}", d.str()));
      }
    }
    log(fmt::format("garbage collection: {} repositories marked, {} blobs marked ({:.2f} s)",
                    before.size(), marked.size(), elapsed()));

    // Sweep: manifests, blobs, then the links of deleted blobs.
    if (stopped() || !delete_manifests(now, before_by_name, watching)) return;
    auto blobs = stored_blobs();
    log(fmt::format("garbage collection: {} blobs listed ({:.2f} s)", blobs.size(), elapsed()));
    auto deleted = delete_blobs(blobs, now, watching);
    if (!deleted) return;
    if (!delete_links(now, std::set<Digest>(blobs.begin(), blobs.end()), *deleted)) return;
    result.completed = true;
  }
};

GarbageCollector::GarbageCollector(std::shared_ptr<storage::Driver> driver, GcOptions options,
                                   std::shared_ptr<storage::Driver> reads)
    : driver_(std::move(driver)),
      reads_(reads ? std::move(reads) : driver_),
      options_(std::move(options)) {}

GcResult GarbageCollector::run() {
  const auto started = std::chrono::steady_clock::now();
  Run run{*driver_, *reads_, options_, {}, {}, {}, {}, {}, {}, {}, {}, {}};
  run.run();
  run.result.duration = std::chrono::steady_clock::now() - started;
  return run.result;
}

void GarbageCollector::delete_repository(const std::string& name) {
  if (!valid_repository_name(name)) throw Error(ErrorCode::kNameInvalid, "invalid repository name");
  const std::string dir = layout::repository(name);
  auto children = reads_->list(dir).value_or(std::vector<std::string>{});
  auto has = [&](std::string_view child) {
    return std::find(children.begin(), children.end(), child) != children.end();
  };
  if (!has("_manifests") && !has("_layers")) {
    throw Error(ErrorCode::kNameUnknown, "repository name not known to registry");
  }
  // Tags first: from then on nothing resolves; then what they named, then the rest.
  for (const std::string& key :
       {layout::tags_dir(name), layout::revisions_root(name), layout::manifests_root(name),
        layout::referrers_root(name), dir + "/_layers", layout::uploads_dir(name)}) {
    driver_->remove(key);
  }
  // Other '_' entries are the repository's too; the rest are nested repositories, kept.
  bool nested = false;
  for (auto& child : reads_->list(dir).value_or(std::vector<std::string>{})) {
    if (!child.empty() && child[0] == '_') {
      driver_->remove(dir + "/" + child);
    } else {
      nested = true;
    }
  }
  if (nested) return;
  driver_->remove(dir);
  // Parents left empty ("a" of "a/b") are no repositories; they go too.
  const std::string root = layout::repositories_root();
  for (std::string parent = dir.substr(0, dir.rfind('/')); parent.size() > root.size();
       parent = parent.substr(0, parent.rfind('/'))) {
    auto left = reads_->list(parent);
    if (!left || !left->empty()) break;
    driver_->remove(parent);
  }
}

}  // namespace onsen::registry
