#include "registry/checker.h"

#include "registry/digest.h"
#include "registry/error.h"
#include "registry/manifest.h"
#include "registry/manifest_store.h"
#include "registry/names.h"
#include "storage/layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

namespace onsen::registry {

namespace layout = storage::layout;

namespace {

constexpr std::string_view kAlgorithms[] = {"sha256", "sha512"};

bool known_algorithm(std::string_view alg) {
  return std::find(std::begin(kAlgorithms), std::end(kAlgorithms), alg) != std::end(kAlgorithms);
}

}  // namespace

struct Checker::Walk {
  storage::Driver& driver;
  const ProblemSink& sink;
  CheckSummary summary;

  void problem(const std::string& key, const std::string& what) {
    ++summary.problems;
    sink(key, what);
  }

  // Sorted children of a directory key (sorted so reports are stable). A regular file where a
  // directory belongs is reported; a missing directory has no children.
  std::vector<std::string> children(const std::string& key) {
    try {
      auto names = driver.list(key);
      if (!names) {
        if (auto info = driver.stat(key); info && !info->is_dir) {
          problem(key, "unexpected file where a directory belongs");
        }
        return {};
      }
      std::sort(names->begin(), names->end());
      return std::move(*names);
    } catch (const storage::Error& e) {
      problem(key, fmt::format("unreadable: {}", e.what()));
      return {};
    }
  }

  bool blob_exists(const Digest& digest) {
    auto info = driver.stat(layout::blob_data(digest.algorithm(), digest.hex()));
    return info && !info->is_dir;
  }

  // ------------------------------------------------------------------ blobs
  void blobs() {
    const std::string root = layout::blobs_root();
    for (auto& alg : children(root)) {
      if (!known_algorithm(alg)) {
        problem(root + "/" + alg, "unknown digest algorithm directory");
        continue;
      }
      for (auto& prefix : children(root + "/" + alg)) {
        for (auto& hex : children(root + "/" + alg + "/" + prefix)) {
          blob(alg, prefix, hex);
        }
      }
    }
  }

  void blob(const std::string& alg, const std::string& prefix, const std::string& hex) {
    const std::string dir = fmt::format("{}/{}/{}/{}", layout::blobs_root(), alg, prefix, hex);
    auto digest = Digest::parse(alg + ":" + hex);
    if (!digest || hex.compare(0, 2, prefix) != 0) {
      problem(dir, "not a blob directory (its name is not a digest under its prefix)");
      return;
    }
    bool has_data = false;
    for (auto& child : children(dir)) {
      if (child == "data") {
        has_data = true;
      } else {
        problem(dir + "/" + child, "unexpected entry in a blob directory");
      }
    }
    if (has_data) verify_blob(*digest);
  }

  void verify_blob(const Digest& digest) {
    const std::string key = layout::blob_data(digest.algorithm(), digest.hex());
    try {
      auto reader = driver.reader(key, 0);
      if (!reader) {
        problem(key, "blob data is not a regular file");
        return;
      }
      Hasher hasher(digest.algorithm());
      std::vector<char> buf(1 << 20);
      while (size_t n = reader->read(buf.data(), buf.size())) {
        hasher.update(buf.data(), n);
        summary.blob_bytes += n;
      }
      ++summary.blobs;
      if (auto actual = hasher.digest(); actual != digest) {
        problem(key, fmt::format("content hashes to {}, not {}", actual.str(), digest.str()));
      }
    } catch (const storage::Error& e) {
      problem(key, fmt::format("unreadable: {}", e.what()));
    }
  }

  // ------------------------------------------------------------------ links
  // Checks the link file in `dir` (a "<alg>/<hex>" directory named after the digest it must hold):
  // nothing but "link" in it, a valid digest equal to the one its path names, a stored blob
  // (unless !blob_required). Returns the digest when the link is sound, nullopt when it is missing
  // (an empty directory is what an interrupted delete leaves) or reported.
  std::optional<Digest> digest_dir(const std::string& dir, const std::string& alg,
                                   const std::string& hex, bool blob_required = true) {
    auto named = Digest::parse(alg + ":" + hex);
    if (!named) {
      problem(dir, "not a link directory (its name is not a digest)");
      return std::nullopt;
    }
    bool has_link = false;
    for (auto& child : children(dir)) {
      if (child == "link") {
        has_link = true;
      } else {
        problem(dir + "/" + child, "unexpected entry in a link directory");
      }
    }
    if (!has_link) return std::nullopt;
    return link(dir + "/link", named, blob_required);
  }

  // Reads a link: a valid digest (equal to `named` when given) whose blob is stored (unless
  // !blob_required).
  std::optional<Digest> link(const std::string& key, const std::optional<Digest>& named,
                             bool blob_required = true) {
    std::optional<std::string> content;
    try {
      content = driver.get_content(key);
    } catch (const storage::Error& e) {
      problem(key, fmt::format("unreadable: {}", e.what()));
      return std::nullopt;
    }
    if (!content) {
      problem(key, "link is not a regular file");
      return std::nullopt;
    }
    ++summary.links;
    auto digest = Digest::parse(*content);
    if (!digest) {
      problem(key, fmt::format("link does not hold a valid digest: {}", quote_untrusted(*content)));
      return std::nullopt;
    }
    if (named && *digest != *named) {
      problem(key, fmt::format("link holds {} but its path names {}", digest->str(), named->str()));
      return std::nullopt;
    }
    if (blob_required && !blob_exists(*digest)) {
      problem(key, fmt::format("link names {}, whose blob is missing", digest->str()));
      return std::nullopt;
    }
    return digest;
  }

  // Every "<alg>/<hex>/link" under root; returns the sound ones.
  std::set<Digest> digest_tree(const std::string& root) {
    std::set<Digest> sound;
    for (auto& alg : children(root)) {
      if (!known_algorithm(alg)) {
        problem(root + "/" + alg, "unknown digest algorithm directory");
        continue;
      }
      for (auto& hex : children(root + "/" + alg)) {
        if (auto digest = digest_dir(root + "/" + alg + "/" + hex, alg, hex)) sound.insert(*digest);
      }
    }
    return sound;
  }

  // ------------------------------------------------------------------ repositories
  // Walks nested repository names the way the catalog does: a directory holding _layers,
  // _manifests or _uploads is a repository; other '_' entries are skipped as Distribution does.
  void repositories(const std::string& key, const std::string& name) {
    bool is_repository = false;
    for (auto& child : children(key)) {
      if (child == "_layers" || child == "_manifests" || child == "_uploads") {
        is_repository = true;
      } else if (child.empty() || child[0] == '_') {
        continue;
      } else if (child[0] == '.') {
        problem(key + "/" + child, "unexpected entry in the repositories tree");
      } else {
        repositories(key + "/" + child, name.empty() ? child : name + "/" + child);
      }
    }
    if (is_repository && !name.empty()) repository(name);
  }

  void repository(const std::string& name) {
    ++summary.repositories;
    const std::string key = layout::repository(name);
    if (!valid_repository_name(name)) problem(key, "not a valid repository name");
    digest_tree(key + "/_layers");
    for (auto& child : children(key + "/_manifests")) {
      if (child != "revisions" && child != "tags") {
        problem(key + "/_manifests/" + child, "unexpected entry in _manifests");
      }
    }
    std::set<Digest> revisions = digest_tree(key + "/_manifests/revisions");
    Subjects subjects;
    for (auto& digest : revisions) {
      if (auto parsed = manifest(name, digest)) {
        subjects[digest] = parsed->subject ? std::optional(parsed->subject->digest) : std::nullopt;
      }
    }
    const std::string tags_dir = layout::tags_dir(name);
    for (auto& tag : children(tags_dir)) this->tag(name, tag, revisions);
    referrers(name, subjects);
  }

  // Revisions whose manifest parsed -> that manifest's subject.
  using Subjects = std::map<Digest, std::optional<Digest>>;

  // The referrers index (registry/referrers_index.h): every entry's path names a subject and a
  // referrer and its link holds the referrer; an entry whose referrer is a revision agrees with
  // that manifest's subject; every revision with a subject has its entry. An entry naming no
  // revision is what an interrupted PUT or DELETE, or a DELETE by registry:2, leaves: readers
  // ignore it, so it is not a problem.
  void referrers(const std::string& repo, const Subjects& subjects) {
    const std::string root = layout::referrers_root(repo);
    std::set<std::pair<Digest, Digest>> entries;  // (subject, referrer)
    for (auto& s_alg : children(root)) {
      if (!known_algorithm(s_alg)) {
        problem(root + "/" + s_alg, "unknown digest algorithm directory");
        continue;
      }
      for (auto& s_hex : children(root + "/" + s_alg)) {
        const std::string dir = root + "/" + s_alg + "/" + s_hex;
        auto subject = Digest::parse(s_alg + ":" + s_hex);
        if (!subject) {
          problem(dir, "not a referrers directory (its name is not a digest)");
          continue;
        }
        for (auto& alg : children(dir)) {
          if (!known_algorithm(alg)) {
            problem(dir + "/" + alg, "unknown digest algorithm directory");
            continue;
          }
          for (auto& hex : children(dir + "/" + alg)) {
            // Unlike other links, the blob need not be stored: a dangling entry's manifest may
            // have been collected.
            if (auto referrer = digest_dir(dir + "/" + alg + "/" + hex, alg, hex, false)) {
              entries.emplace(*subject, *referrer);
              check_entry(dir + "/" + alg + "/" + hex + "/link", *subject, *referrer, subjects);
            }
          }
        }
      }
    }
    for (auto& [revision, subject] : subjects) {
      if (!subject || entries.count({*subject, revision})) continue;
      problem(layout::revision_link(repo, revision.algorithm(), revision.hex()),
              fmt::format("manifest {} has subject {} but no referrers index entry ({}); push it "
                          "again to add it",
                          revision.str(), subject->str(),
                          layout::referrer_link(repo, subject->algorithm(), subject->hex(),
                                                revision.algorithm(), revision.hex())));
    }
  }

  // An entry naming a revision whose manifest did not parse is left alone (that is reported).
  void check_entry(const std::string& key, const Digest& subject, const Digest& referrer,
                   const Subjects& subjects) {
    auto revision = subjects.find(referrer);
    if (revision == subjects.end() || revision->second == subject) return;
    problem(key, fmt::format("referrers index entry files {} under subject {}, but {}",
                             referrer.str(), subject.str(),
                             revision->second ? "its subject is " + revision->second->str()
                                              : std::string("that manifest has no subject")));
  }

  std::optional<Manifest> manifest(const std::string& repo, const Digest& digest) {
    const std::string key = layout::revision_link(repo, digest.algorithm(), digest.hex());
    const std::string blob_key = layout::blob_data(digest.algorithm(), digest.hex());
    try {
      auto info = driver.stat(blob_key);
      if (info && info->size > ManifestStore::kMaxManifestSize) {
        problem(key, fmt::format("manifest {} is larger than {} bytes", digest.str(),
                                 ManifestStore::kMaxManifestSize));
        return std::nullopt;
      }
      auto bytes = driver.get_content(blob_key);
      if (!bytes) return std::nullopt;  // reported by link()
      ++summary.manifests;
      return parse_manifest(*bytes, "");
    } catch (const storage::Error& e) {
      problem(blob_key, fmt::format("unreadable: {}", e.what()));
    } catch (const Error& e) {
      problem(key, fmt::format("manifest {} does not parse: {}", digest.str(), e.what()));
    }
    return std::nullopt;
  }

  void tag(const std::string& repo, const std::string& tag, const std::set<Digest>& revisions) {
    const std::string dir = layout::tag_dir(repo, tag);
    ++summary.tags;
    if (!valid_tag(tag)) {
      problem(dir, "not a valid tag name");
      return;
    }
    bool has_current = false;
    for (auto& child : children(dir)) {
      if (child == "current") {
        has_current = true;
      } else if (child != "index") {
        problem(dir + "/" + child, "unexpected entry in a tag directory");
      }
    }
    digest_tree(dir + "/index");
    const std::string current = layout::tag_current_link(repo, tag);
    for (auto& child : children(dir + "/current")) {
      if (child != "link")
        problem(dir + "/current/" + child, "unexpected entry in a tag directory");
    }
    auto info = has_current ? driver.stat(current) : std::nullopt;
    if (!info) {
      problem(dir, "tag has no current link (it is listed but does not resolve)");
      return;
    }
    auto digest = link(current, std::nullopt);
    if (digest && !revisions.count(*digest)) {
      problem(current,
              fmt::format("tag names {}, which is not a revision of {}", digest->str(), repo));
    }
  }
};

CheckSummary Checker::run(const ProblemSink& on_problem) {
  Walk walk{*driver_, on_problem, {}};
  walk.blobs();
  walk.repositories(layout::repositories_root(), "");
  return walk.summary;
}

}  // namespace onsen::registry
