#include "registry/garbage_collector.h"

#include "registry/digest.h"
#include "registry/error.h"
#include "registry/manifest.h"
#include "registry/manifest_store.h"
#include "registry/names.h"
#include "storage/layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string_view>
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

}  // namespace

// What a manifest references, as far as the collector cares.
struct References {
  bool stored = false;           // its bytes were found
  std::vector<Digest> blobs;     // config and layers (artifact blobs); for a manifest that does
                                 // not parse, every digest its bytes mention
  std::vector<Digest> children;  // index / manifest list entries
  std::optional<Digest> subject;
};

// One repository as listed: its revisions, tags and layer links, with mtimes.
struct Inventory {
  std::string name;
  bool has_manifests = false;  // a repository for Distribution (it lists it in its output)
  std::map<Digest, Clock::time_point> revisions;      // revision links holding their digest
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

  // ------------------------------------------------------------------ listing
  // Repository names under key in the order of Distribution's walk (sorted children, depth
  // first, a repository where its "_manifests" sorts), with those holding only _layers too.
  void repository_names(const std::string& key, const std::string& name,
                        std::vector<std::pair<std::string, bool>>& out) {
    auto children = reads.list(key).value_or(std::vector<std::string>{});
    std::sort(children.begin(), children.end());
    bool layers_only = false;
    for (auto& child : children) {
      if (child == "_manifests" && !name.empty()) {
        out.emplace_back(name, true);
      } else if (child == "_layers") {
        layers_only = true;
      } else if (!child.empty() && child[0] != '_' && child[0] != '.') {
        repository_names(key + "/" + child, name.empty() ? child : name + "/" + child, out);
      }
    }
    if (layers_only && !name.empty() &&
        std::find(children.begin(), children.end(), "_manifests") == children.end()) {
      out.emplace_back(name, false);
    }
  }

  // Lists every repository: names, revisions, tags (with their index when with_index), layer
  // links; reads the revision and tag links and stats every link, in batches.
  std::vector<Inventory> inventory(bool with_index) {
    std::vector<std::pair<std::string, bool>> names;
    repository_names(layout::repositories_root(), "", names);
    std::vector<Inventory> repos;
    std::vector<std::string> link_keys;  // revision links, then tags' current, then layer links
    for (auto& [name, has_manifests] : names) {
      Inventory repo{name, has_manifests, {}, {}, {}, {}, {}};
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
      repos.push_back(std::move(repo));
    }
    // The revision links' and tags' contents.
    std::vector<std::string> content_keys;
    for (auto& repo : repos) {
      for (auto& [d, _] : repo.revisions) {
        content_keys.push_back(layout::revision_link(repo.name, d.algorithm(), d.hex()));
      }
      for (auto& [tag, _] : repo.tags) {
        content_keys.push_back(layout::tag_current_link(repo.name, tag));
      }
    }
    auto contents = in_batches<std::string>(
        content_keys, [this](const std::vector<std::string>& k) { return reads.get_contents(k); });
    auto stats = in_batches<storage::FileInfo>(
        content_keys, [this](const std::vector<std::string>& k) { return reads.stats(k); });
    size_t i = 0;
    for (auto& repo : repos) {
      for (auto it = repo.revisions.begin(); it != repo.revisions.end(); ++i) {
        // A revision is a link holding its own digest; an empty directory (an interrupted
        // delete) or a foreign file is none.
        auto held = contents[i] ? Digest::parse(*contents[i]) : std::nullopt;
        if (!held || *held != it->first || !stats[i]) {
          it = repo.revisions.erase(it);
        } else {
          it->second = stats[i]->mod_time;
          ++it;
        }
      }
      for (auto& [tag, current] : repo.tags) {
        if (contents[i]) current = Digest::parse(*contents[i]);
        repo.tag_mtimes[tag] = stats[i] ? stats[i]->mod_time : Clock::time_point{};
        ++i;
      }
    }
    // The layer links' mtimes (their content is not needed: the path names the digest).
    for (auto& repo : repos) {
      for (auto& [d, _] : repo.layers) {
        link_keys.push_back(layout::layer_link(repo.name, d.algorithm(), d.hex()));
      }
    }
    auto layer_stats = in_batches<storage::FileInfo>(
        link_keys, [this](const std::vector<std::string>& k) { return reads.stats(k); });
    i = 0;
    for (auto& repo : repos) {
      for (auto it = repo.layers.begin(); it != repo.layers.end(); ++i) {
        if (!layer_stats[i]) {
          it = repo.layers.erase(it);
        } else {
          it->second = layer_stats[i]->mod_time;
          ++it;
        }
      }
    }
    return repos;
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
    std::vector<std::string> keys;
    for (auto& d : todo) keys.push_back(layout::blob_data(d.algorithm(), d.hex()));
    auto infos = in_batches<storage::FileInfo>(
        keys, [this](const std::vector<std::string>& k) { return reads.stats(k); });
    // Only what may be a manifest is read: a link naming a large layer is not one.
    std::vector<size_t> readable;
    std::vector<std::string> read_keys;
    for (size_t i = 0; i < todo.size(); ++i) {
      references[todo[i]];  // not stored, until found below
      if (infos[i] && !infos[i]->is_dir && infos[i]->size <= ManifestStore::kMaxManifestSize) {
        readable.push_back(i);
        read_keys.push_back(keys[i]);
      }
    }
    for (size_t i = 0; i < read_keys.size(); i += kBatch) {
      std::vector<std::string> chunk(read_keys.begin() + i,
                                     read_keys.begin() + std::min(read_keys.size(), i + kBatch));
      auto bodies = reads.get_contents(chunk);
      for (size_t j = 0; j < chunk.size(); ++j) {
        if (bodies[j]) references[todo[readable[i + j]]] = parse(*bodies[j]);
      }
    }
  }

  static References parse(const std::string& body) {
    References refs;
    refs.stored = true;
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

  // Marks from the roots of repo (rule 1); `fresh`: only what is young or not in `before` (the
  // re-mark of what changed during the mark).
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
      if (young(mtime) || (referrer && !options.delete_orphan_referrers) ||
          (!referrer && !options.delete_untagged)) {
        roots.push_back(d);
      }
    }
    for (auto& root : roots) keep(repo, root, referrers);
    // Rule 2: a young layer link keeps its blob (an upload or mount whose manifest is to come).
    for (auto& [d, mtime] : repo.layers) {
      if (young(mtime) || (before && !before->layers.count(d))) mark_blob(d);
    }
  }

  // ------------------------------------------------------------------ sweep
  void remove(const std::string& key) {
    if (!options.dry_run) driver.remove(key);
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

  bool delete_manifests(const std::vector<Inventory>& now,
                        const std::map<std::string, const Inventory*>& before) {
    for (auto& repo : now) {
      auto it = before.find(repo.name);
      if (it == before.end()) continue;
      for (auto& d : unkept(repo, *it->second)) {
        if (stopped()) return false;
        // Tag index entries first, then the revision, then its referrers index entry: each
        // step leaves a state `onsen check` accepts, and the next run redoes what is left.
        for (auto& [tag, index] : repo.tag_index) {
          if (std::find(index.begin(), index.end(), d) != index.end()) {
            remove(link_dir(layout::tag_index_link(repo.name, tag, d.algorithm(), d.hex())));
          }
        }
        const std::string revision =
            link_dir(layout::revision_link(repo.name, d.algorithm(), d.hex()));
        if (!options.dry_run) log(fmt::format("deleting manifest: {}", revision));
        remove(revision);
        if (auto& subject = references.at(d).subject) {
          remove(link_dir(layout::referrer_link(repo.name, subject->algorithm(), subject->hex(),
                                                d.algorithm(), d.hex())));
        }
        ++result.manifests_deleted;
      }
    }
    return true;
  }

  // Every blob in the store.
  std::vector<Digest> stored_blobs() {
    std::vector<Digest> out;
    const std::string root = layout::blobs_root();
    for (auto alg : kAlgorithms) {
      const std::string alg_dir = root + "/" + std::string(alg);
      for (auto& prefix : reads.list(alg_dir).value_or(std::vector<std::string>{})) {
        for (auto& hex : reads.list(alg_dir + "/" + prefix).value_or(std::vector<std::string>{})) {
          auto d = Digest::parse(std::string(alg) + ":" + hex);
          if (d && hex.starts_with(prefix)) out.push_back(*d);
        }
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Deletes the unmarked blobs older than grace; returns those deleted (or, dry, eligible) and
  // adds to `missing` the blob directories without data.
  std::optional<std::set<Digest>> delete_blobs(const std::vector<Digest>& blobs) {
    std::vector<Digest> candidates;
    std::vector<std::string> keys;
    for (auto& d : blobs) {
      if (marked.count(d)) continue;
      candidates.push_back(d);
      keys.push_back(layout::blob_data(d.algorithm(), d.hex()));
    }
    auto infos = in_batches<storage::FileInfo>(
        keys, [this](const std::vector<std::string>& k) { return reads.stats(k); });
    std::vector<std::pair<Digest, uint64_t>> eligible;
    for (size_t i = 0; i < candidates.size(); ++i) {
      // No data: an empty directory left by an interrupted delete (or a move into place under
      // way); not a blob, left alone.
      if (!infos[i] || infos[i]->is_dir || young(infos[i]->mod_time)) continue;
      eligible.emplace_back(candidates[i], infos[i]->size);
    }
    result.blobs_marked = marked.size();
    output(fmt::format("\n{} blobs marked, {} blobs and {} manifests eligible for deletion",
                       marked.size(), eligible.size(), result.manifests_deleted));
    std::set<Digest> deleted;
    for (auto& [d, size] : eligible) {
      if (stopped()) return std::nullopt;
      output(fmt::format("blob eligible for deletion: {}", d.str()));
      const std::string dir = layout::blob_dir(d.algorithm(), d.hex());
      if (!options.dry_run) log(fmt::format("Deleting blob: {}", dir));
      remove(dir);
      deleted.insert(d);
      ++result.blobs_deleted;
      result.bytes_freed += size;
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
    for (size_t i = 0; i < doomed.size(); ++i) {
      const auto& link = infos[i];
      const auto& data = infos[doomed.size() + i];
      if (!link || young(link->mod_time) || (data && !options.dry_run)) continue;
      if (stopped()) return false;
      if (doomed[i].layer) {
        output(fmt::format("{}: layer link eligible for deletion: {}", *doomed[i].repo,
                           doomed[i].digest.str()));
      }
      remove(link_dir(doomed[i].link));
      ++result.links_deleted;
    }
    return true;
  }

  void run() {
    const auto start = Clock::now();
    threshold = start - options.grace;

    // Mark.
    auto before = inventory(false);
    result.repositories = before.size();
    for (auto& repo : before) {
      if (stopped()) return;
      if (repo.has_manifests) output(repo.name);
      mark(repo, nullptr);
    }
    // Re-mark what was written while marking (rule 4): a push that ran meanwhile is safe.
    if (stopped()) return;
    auto now = inventory(true);
    std::map<std::string, const Inventory*> before_by_name;
    for (auto& repo : before) before_by_name[repo.name] = &repo;
    static const Inventory kNone;
    for (auto& repo : now) {
      auto it = before_by_name.find(repo.name);
      mark(repo, it == before_by_name.end() ? &kNone : it->second);
    }
    for (auto& repo : now) {
      auto it = before_by_name.find(repo.name);
      if (it == before_by_name.end()) continue;
      for (auto& d : unkept(repo, *it->second)) {
        output(fmt::format("manifest eligible for deletion: {}", d.str()));
      }
    }
    log(fmt::format("garbage collection: {} repositories marked, {} blobs marked", before.size(),
                    marked.size()));

    // Sweep: manifests, blobs, then the links of deleted blobs.
    if (stopped() || !delete_manifests(now, before_by_name)) return;
    auto blobs = stored_blobs();
    auto deleted = delete_blobs(blobs);
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
  Run run{*driver_, *reads_, options_, {}, {}, {}, {}, {}};
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
