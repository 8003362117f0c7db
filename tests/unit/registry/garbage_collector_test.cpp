// The garbage collector on real stores (the filesystem driver in a temporary directory), written
// through a Registry: what the mark keeps (index children, referrers, tags, grace), what the
// sweep deletes, that `onsen check` (the Checker) is clean afterwards, that a stopped run is
// finished by the next, that a push during the mark survives, and repository deletion.
#include "registry/garbage_collector.h"

#include "push.h"
#include "registry/checker.h"
#include "registry/error.h"
#include "registry/registry.h"
#include "registry/tombstones.h"
#include "storage/filesystem.h"
#include "storage/forwarding_driver.h"
#include "storage/layout.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace onsen::registry {
namespace {

namespace layout = storage::layout;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class GarbageCollectorTest : public ::testing::Test {
 protected:
  test::TempDir dir{"onsen-gc"};
  std::shared_ptr<storage::FilesystemDriver> driver =
      std::make_shared<storage::FilesystemDriver>(dir.path());
  Registry reg{driver, RegistryOptions{.delete_enabled = true}};
  std::vector<std::string> lines;

  Digest blob(const std::string& repo, const std::string& content) {
    return test::push_blob(reg, repo, content);
  }

  // An OCI image (config + one layer `layer`) in repo under reference (a tag, or "" for by
  // digest); returns the manifest digest.
  Digest image(const std::string& repo, const std::string& reference, const std::string& layer,
               const std::string& extra = "") {
    auto config = blob(repo, "{}");
    auto data = blob(repo, layer);
    auto body = test::image_manifest(config, data, layer.size(), extra);
    return reg
        .put_manifest(repo, reference.empty() ? digest_of(body).str() : reference,
                      media_type::kOciManifest, body)
        .digest;
  }

  // An image whose subject is `subject` (a signature), pushed by digest.
  Digest referrer(const std::string& repo, const Digest& subject, const std::string& layer) {
    return image(repo, "", layer,
                 R"(,"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                 R"("digest":")" +
                     subject.str() + R"(","size":1})");
  }

  Digest index(const std::string& repo, const std::string& tag,
               const std::vector<Digest>& children) {
    std::string body =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
        R"("manifests":[)";
    for (size_t i = 0; i < children.size(); ++i) {
      body +=
          (i ? "," : "") +
          std::string(R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")") +
          children[i].str() + R"(","size":1})";
    }
    body += "]}";
    return reg.put_manifest(repo, tag, media_type::kOciIndex, body).digest;
  }

  GcResult collect(GcOptions options = {}) {
    options.output = [this](std::string_view line) { lines.emplace_back(line); };
    return GarbageCollector(reg.storage_driver(), std::move(options), reg.uncached_storage_driver())
        .run();
  }

  GcResult collect_untagged(GcOptions options = {}) {
    options.delete_untagged = true;
    return collect(std::move(options));
  }

  bool blob_stored(const Digest& d) {
    return driver->stat(layout::blob_data(d.algorithm(), d.hex())).has_value();
  }
  bool revision(const std::string& repo, const Digest& d) {
    return driver->stat(layout::revision_link(repo, d.algorithm(), d.hex())).has_value();
  }

  // Problems `onsen check` reports, one line each.
  std::string problems() {
    std::string all;
    Checker(driver).run(
        [&](const std::string& key, const std::string& what) { all += key + ": " + what + "\n"; });
    return all;
  }

  // Sets the mtime of everything under the store to `age` ago (what was written long ago).
  void age_everything(std::chrono::seconds age) {
    const auto when = fs::file_time_type::clock::now() - age;
    for (auto& entry : fs::recursive_directory_iterator(dir.path())) {
      fs::last_write_time(entry.path(), when);
    }
  }

  std::string path(const std::string& key) { return dir.path() + key; }
};

TEST_F(GarbageCollectorTest, KeepsTaggedAndUntaggedWithoutDeleteUntagged) {
  auto old = image("r", "v1", "old layer");
  auto current = image("r", "v1", "new layer");
  auto orphan = blob("r", "never referenced");
  auto result = collect();
  EXPECT_TRUE(result.completed);
  EXPECT_TRUE(revision("r", old));
  EXPECT_TRUE(blob_stored(digest_of("old layer")));
  EXPECT_TRUE(blob_stored(current));
  EXPECT_FALSE(blob_stored(orphan));
  EXPECT_EQ(result.blobs_deleted, 1u);
  EXPECT_EQ(result.bytes_freed, std::string("never referenced").size());
  EXPECT_EQ(result.manifests_deleted, 0u);
  // The orphan's layer link went with it.
  EXPECT_FALSE(driver->stat(layout::layer_link("r", "sha256", orphan.hex())));
  EXPECT_EQ(problems(), "");
  EXPECT_NE(std::find(lines.begin(), lines.end(), "r"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "blob eligible for deletion: " + orphan.str()),
            lines.end());
}

TEST_F(GarbageCollectorTest, DeleteUntaggedCollectsUntaggedButKeepsIndexChildren) {
  auto untagged = image("r", "v1", "old layer");
  image("r", "v1", "new layer");
  auto amd64 = image("multi", "", "amd64 layer");
  auto arm64 = image("multi", "", "arm64 layer");
  auto idx = index("multi", "latest", {amd64, arm64});
  auto result = collect_untagged();
  EXPECT_TRUE(result.completed);
  EXPECT_EQ(result.manifests_deleted, 1u);
  EXPECT_FALSE(revision("r", untagged));
  EXPECT_FALSE(blob_stored(untagged));
  EXPECT_FALSE(blob_stored(digest_of("old layer")));
  // distribution#3178: the children of a kept index stay whole, also with -m.
  for (auto& child : {amd64, arm64, idx}) {
    EXPECT_TRUE(revision("multi", child));
    EXPECT_TRUE(blob_stored(child));
  }
  EXPECT_TRUE(blob_stored(digest_of("amd64 layer")));
  EXPECT_TRUE(blob_stored(digest_of("arm64 layer")));
  EXPECT_EQ(reg.get_manifest("multi", amd64.str()).digest, amd64);
  EXPECT_EQ(problems(), "");
  EXPECT_NE(
      std::find(lines.begin(), lines.end(), "manifest eligible for deletion: " + untagged.str()),
      lines.end());
}

TEST_F(GarbageCollectorTest, DryRunDeletesNothingAndReportsTheSame) {
  image("r", "v1", "old layer");
  image("r", "v1", "new layer");
  blob("r", "orphan");
  auto dry = collect_untagged({.dry_run = true});
  auto dry_lines = lines;
  EXPECT_EQ(problems(), "");
  lines.clear();
  auto real = collect_untagged();
  EXPECT_EQ(dry.manifests_deleted, 1u);
  EXPECT_EQ(dry.blobs_deleted, real.blobs_deleted);
  EXPECT_EQ(dry.bytes_freed, real.bytes_freed);
  EXPECT_EQ(dry_lines, lines);
  EXPECT_EQ(collect_untagged().blobs_deleted, 0u);  // the dry run had deleted nothing before
}

TEST_F(GarbageCollectorTest, ReferrerFollowsItsSubject) {
  auto subject = image("r", "v1", "subject layer");
  auto signature = referrer("r", subject, "signature layer");
  // Untagged, but its subject is kept: kept, also with -m.
  collect_untagged();
  EXPECT_TRUE(revision("r", signature));
  EXPECT_TRUE(blob_stored(digest_of("signature layer")));
  // The subject untagged: with -m both go, the referrer's index entry too.
  reg.delete_manifest("r", "v1");
  auto result = collect_untagged();
  EXPECT_EQ(result.manifests_deleted, 2u);
  EXPECT_FALSE(revision("r", signature));
  EXPECT_FALSE(blob_stored(digest_of("signature layer")));
  EXPECT_FALSE(
      driver->stat(layout::referrer_link("r", "sha256", subject.hex(), "sha256", signature.hex())));
  EXPECT_EQ(problems(), "");
}

TEST_F(GarbageCollectorTest, OrphanReferrerIsCollectedUnlessTurnedOff) {
  auto subject = image("r", "v1", "subject layer");
  auto signature = referrer("r", subject, "signature layer");
  reg.delete_manifest("r", subject.str());  // deleted through the API: the referrer is an orphan
  collect({.delete_orphan_referrers = false});
  EXPECT_TRUE(revision("r", signature));
  collect_untagged({.delete_orphan_referrers = false});
  EXPECT_TRUE(revision("r", signature));
  auto result = collect();  // without -m: orphan referrers are collected by default
  EXPECT_EQ(result.manifests_deleted, 1u);
  EXPECT_FALSE(revision("r", signature));
  EXPECT_FALSE(blob_stored(digest_of("signature layer")));
  EXPECT_EQ(problems(), "");
}

TEST_F(GarbageCollectorTest, RepositoryThatNeverHadATagDoesNotAbort) {
  auto loose = image("notags", "", "loose layer");
  auto kept = image("zzz", "v1", "kept layer");
  ASSERT_FALSE(driver->stat(layout::tags_dir("notags")));
  auto result = collect_untagged();
  EXPECT_TRUE(result.completed);
  EXPECT_FALSE(revision("notags", loose));
  EXPECT_TRUE(revision("zzz", kept));
  EXPECT_EQ(problems(), "");
}

TEST_F(GarbageCollectorTest, GraceKeepsYoungBlobsLinksAndRevisions) {
  image("r", "v1", "old layer");
  auto untagged_young = image("r", "v1", "new layer");
  reg.delete_manifest("r", "v1");  // both revisions untagged now
  auto upload = blob("r", "uploaded, manifest to come");
  auto result = collect_untagged({.grace = 1h});
  EXPECT_TRUE(result.completed);
  EXPECT_EQ(result.manifests_deleted, 0u);
  EXPECT_EQ(result.blobs_deleted, 0u);
  EXPECT_TRUE(blob_stored(upload));
  EXPECT_TRUE(revision("r", untagged_young));

  // A young layer link keeps an old blob (a mount, or an upload of data already stored).
  age_everything(2h);
  reg.mount_blob("other", "r", upload);
  result = collect_untagged({.grace = 1h});
  EXPECT_EQ(result.manifests_deleted, 2u);
  EXPECT_TRUE(blob_stored(upload));
  EXPECT_FALSE(blob_stored(digest_of("new layer")));
  EXPECT_FALSE(revision("r", untagged_young));
  // Young blob data alone (no link) keeps it too.
  age_everything(2h);
  auto fresh = digest_of("fresh data");
  driver->put_content(layout::blob_data("sha256", fresh.hex()), "fresh data");
  result = collect_untagged({.grace = 1h});
  EXPECT_TRUE(blob_stored(fresh));
  EXPECT_FALSE(blob_stored(upload));
  EXPECT_EQ(problems(), "");
}

TEST_F(GarbageCollectorTest, StoppedRunIsFinishedByTheNext) {
  // Untagged images, layers shared between repositories and an orphan; a run stopped after each
  // possible step (as if killed there), then a full run: the store ends where one uninterrupted
  // run leaves it, and `onsen check` is clean.
  for (int stop_after = 0;; ++stop_after) {
    test::TempDir other{"onsen-gc-stop"};
    auto d = std::make_shared<storage::FilesystemDriver>(other.path());
    Registry r{d, RegistryOptions{.delete_enabled = true}};
    std::vector<Digest> untagged;
    for (int i = 0; i < 3; ++i) {
      auto config = test::push_blob(r, "s", "{}");
      auto layer = test::push_blob(r, "s" + std::to_string(i % 2), "layer " + std::to_string(i));
      r.mount_blob("s", "s" + std::to_string(i % 2), layer);
      auto body = test::image_manifest(config, layer, 7);
      untagged.push_back(r.put_manifest("s", "t", media_type::kOciManifest, body).digest);
    }
    test::push_blob(r, "s", "orphan");
    int steps = 0;
    GcOptions options{.delete_untagged = true};
    options.should_stop = [&] { return ++steps > stop_after; };
    auto first = GarbageCollector(r.storage_driver(), options).run();
    if (!first.completed) {
      EXPECT_TRUE(GarbageCollector(r.storage_driver(), {.delete_untagged = true}).run().completed);
    }
    for (size_t i = 0; i + 1 < untagged.size(); ++i) {
      EXPECT_FALSE(d->stat(layout::blob_data("sha256", untagged[i].hex())));
    }
    EXPECT_TRUE(d->stat(layout::blob_data("sha256", untagged.back().hex())));
    EXPECT_FALSE(d->stat(layout::blob_data("sha256", digest_of("orphan").hex())));
    EXPECT_FALSE(d->stat(layout::layer_link("s0", "sha256", digest_of("layer 0").hex())));
    EXPECT_TRUE(d->stat(layout::layer_link("s0", "sha256", digest_of("layer 2").hex())));
    std::string after;
    Checker(d).run([&](const std::string& k, const std::string& w) { after += k + w + "\n"; });
    EXPECT_EQ(after, "") << "stopped after " << stop_after << " steps";
    if (first.completed) break;
    ASSERT_LT(stop_after, 100);
  }
}

TEST_F(GarbageCollectorTest, BlobDirectoryWithoutDataIsADeletedBlob) {
  // A run killed between removing a blob's data and its directory: the next run (without and
  // with a grace window) removes the directory and the layer links naming the blob, so `onsen
  // check` is clean; a blob whose data is written again meanwhile, or linked anew, is left alone.
  for (auto grace : {0s, 3600s}) {
    test::TempDir other{"onsen-gc-dataless"};
    auto d = std::make_shared<storage::FilesystemDriver>(other.path());
    Registry r{d, RegistryOptions{.delete_enabled = true}};
    auto config = test::push_blob(r, "a", "{}");
    auto layer = test::push_blob(r, "a", "half deleted");
    r.mount_blob("b", "a", layer);
    auto m = r.put_manifest("a", "v1", media_type::kOciManifest,
                            test::image_manifest(config, layer, 12));
    r.delete_manifest("a", m.digest.str());
    d->remove(layout::blob_data("sha256", layer.hex()));
    ASSERT_TRUE(fs::exists(other.path() + layout::blob_dir("sha256", layer.hex())));
    const auto when = fs::file_time_type::clock::now() - 2h;
    for (auto& entry : fs::recursive_directory_iterator(other.path())) {
      fs::last_write_time(entry.path(), when);
    }
    auto result =
        GarbageCollector(r.storage_driver(), {.delete_untagged = true, .grace = grace}).run();
    EXPECT_TRUE(result.completed);
    EXPECT_FALSE(fs::exists(other.path() + layout::blob_dir("sha256", layer.hex())));
    EXPECT_FALSE(d->stat(layout::layer_link("a", "sha256", layer.hex())));
    EXPECT_FALSE(d->stat(layout::layer_link("b", "sha256", layer.hex())));
    // The collector's markers of the chunk are gone with it.
    EXPECT_TRUE(
        d->list(tombstones::root() + "/sha256").value_or(std::vector<std::string>{}).empty());
    std::string after;
    Checker(d).run([&](const std::string& k, const std::string& w) { after += k + w + "\n"; });
    EXPECT_EQ(after, "") << "grace " << grace.count() << " s";
  }
}

TEST_F(GarbageCollectorTest, PushDuringTheMarkIsKept) {
  // A blob nothing references (its manifest was deleted), and repositories to mark after the
  // one where the push lands, all older than the grace window: while the collector marks them, a
  // manifest referencing the old blob is pushed into a repository already marked, by digest
  // (untagged).
  auto old = image("a", "", "shared layer");
  reg.delete_manifest("a", old.str());
  for (auto name : {"b", "c", "d"}) image(name, "v1", std::string("layer of ") + name);
  age_everything(1h);
  // The same image again, told apart by an annotation; its blobs are still linked in "a" (a
  // manifest DELETE leaves layer links), so the client uploads nothing.
  auto body = test::image_manifest(digest_of("{}"), digest_of("shared layer"), 12,
                                   R"(,"annotations":{"again":"yes"})");
  const Digest pushed = digest_of(body);
  bool pushed_once = false;
  GcOptions options{.delete_untagged = true, .grace = 30min};
  options.should_stop = [&] {
    if (!pushed_once && std::find(lines.begin(), lines.end(), "c") != lines.end()) {
      pushed_once = true;
      reg.put_manifest("a", pushed.str(), media_type::kOciManifest, body);
    }
    return false;
  };
  auto result = collect(std::move(options));
  ASSERT_TRUE(pushed_once);
  EXPECT_TRUE(result.completed);
  EXPECT_TRUE(revision("a", pushed));
  EXPECT_TRUE(blob_stored(digest_of("shared layer")));
  EXPECT_EQ(reg.get_manifest("a", pushed.str()).digest, pushed);
  EXPECT_EQ(problems(), "");
}

TEST_F(GarbageCollectorTest, PushAfterTheRemarkKeepsItsOldBlobs) {
  // Two old blobs nothing references (their manifests were deleted). After the collector's
  // re-mark, before its sweep, a client pushes a manifest on the first (its HEAD found it linked,
  // so it uploads nothing) and mounts the second into a new repository to push one there: the
  // PUT refreshes the first's old link, the mount the second's source link, the second PUT (whose
  // manifest is byte for byte the deleted one) that manifest's old data, and the collector,
  // looking at each blob's data and links again just before deleting it, keeps them all.
  auto first = image("a", "", "first layer");
  auto second = image("a", "", "second layer");
  reg.delete_manifest("a", first.str());
  reg.delete_manifest("a", second.str());
  age_everything(1h);
  bool remarked = false, pushed = false;
  std::vector<Digest> pushed_digests;
  GcOptions options{.grace = 30min};
  options.log = [&](std::string_view line) {
    if (line.starts_with("garbage collection:")) remarked = true;
  };
  options.should_stop = [&] {
    if (remarked && !pushed) {
      pushed = true;
      auto body = test::image_manifest(digest_of("{}"), digest_of("first layer"), 11,
                                       R"(,"annotations":{"again":"yes"})");
      pushed_digests.push_back(
          reg.put_manifest("a", digest_of(body).str(), media_type::kOciManifest, body).digest);
      EXPECT_TRUE(reg.mount_blob("b", "a", digest_of("second layer")));
      EXPECT_TRUE(reg.mount_blob("b", "a", digest_of("{}")));
      body = test::image_manifest(digest_of("{}"), digest_of("second layer"), 12);
      pushed_digests.push_back(reg.put_manifest("b", "v1", media_type::kOciManifest, body).digest);
    }
    return false;
  };
  auto result = collect(std::move(options));
  ASSERT_TRUE(pushed);
  EXPECT_TRUE(result.completed);
  EXPECT_TRUE(blob_stored(digest_of("first layer")));
  EXPECT_TRUE(blob_stored(digest_of("second layer")));
  EXPECT_TRUE(blob_stored(digest_of("{}")));
  EXPECT_EQ(pushed_digests[1], second);
  EXPECT_EQ(reg.get_manifest("a", pushed_digests[0].str()).digest, pushed_digests[0]);
  EXPECT_EQ(reg.get_manifest("b", "v1").digest, pushed_digests[1]);
  EXPECT_EQ(problems(), "");
}

TEST_F(GarbageCollectorTest, RetagAndUploadAfterTheRemarkAreKept) {
  // With -m: an old untagged manifest, and an old blob nothing references. After the re-mark a
  // client tags the manifest again (a PUT by tag of the same bytes), and another uploads the
  // blob's bytes into a repository that never linked it and pushes a manifest on them. The
  // revision is looked at again before its removal, the upload replaced the old data: both
  // images pull whole afterwards.
  auto old = image("a", "v1", "old layer");
  const std::string old_body = reg.get_manifest("a", "v1").bytes;
  reg.delete_manifest("a", "v1");  // the tag only: the revision stays, untagged
  auto loose = image("a", "", "loose layer");
  reg.delete_manifest("a", loose.str());
  age_everything(1h);
  bool remarked = false, pushed = false;
  GcOptions options{.delete_untagged = true, .grace = 30min};
  options.log = [&](std::string_view line) {
    if (line.starts_with("garbage collection:") && line.find("marked") != line.npos) {
      remarked = true;
    }
  };
  Digest fresh = old;
  options.should_stop = [&] {
    if (remarked && !pushed) {
      pushed = true;
      reg.put_manifest("a", "v2", media_type::kOciManifest, old_body);
      fresh = image("b", "v1", "loose layer");
    }
    return false;
  };
  auto result = collect(std::move(options));
  ASSERT_TRUE(pushed);
  EXPECT_TRUE(result.completed);
  EXPECT_EQ(reg.get_manifest("a", "v2").digest, old);
  EXPECT_TRUE(blob_stored(digest_of("old layer")));
  EXPECT_EQ(reg.get_manifest("b", "v1").digest, fresh);
  EXPECT_TRUE(blob_stored(digest_of("loose layer")));
  EXPECT_EQ(reg.blob_size("b", digest_of("loose layer")), 11u);
  EXPECT_EQ(problems(), "");
}

TEST_F(GarbageCollectorTest, ManifestPutRefreshesOldLayerLinks) {
  auto config = blob("r", "{}");
  auto layer = blob("r", "layer");
  auto young_layer = blob("r", "young");
  const auto link = path(layout::layer_link("r", "sha256", layer.hex()));
  const auto young_link = path(layout::layer_link("r", "sha256", young_layer.hex()));
  const auto long_ago = fs::file_time_type::clock::now() - 1h;
  fs::last_write_time(link, long_ago);
  const auto recent = fs::file_time_type::clock::now() - 1min;
  fs::last_write_time(young_link, recent);
  reg.put_manifest("r", "v1", media_type::kOciManifest, test::image_manifest(config, layer, 5));
  EXPECT_GT(fs::last_write_time(link), fs::file_time_type::clock::now() - 1min);
  reg.put_manifest("r", "v2", media_type::kOciManifest,
                   test::image_manifest(config, young_layer, 5));
  EXPECT_EQ(fs::last_write_time(young_link), recent);  // younger than the refresh age: untouched
  EXPECT_EQ(problems(), "");
}

TEST_F(GarbageCollectorTest, PushesWaitForTheCollectorsMarkers) {
  // A collection has marked "layer" for deletion (its tombstone) while a client pushes a
  // manifest on it and mounts it: both wait; the collector deletes it and removes the marker;
  // the PUT fails (MANIFEST_BLOB_UNKNOWN, its revision gone again), the mount is none (the
  // client uploads), and no link names the deleted blob. A stale marker (a killed collector's)
  // holds nobody up, and a run removes it.
  auto config = blob("r", "{}");
  auto layer = blob("r", "layer");
  const auto body = test::image_manifest(config, layer, 5);
  driver->put_content(tombstones::key(layer), "");
  std::thread collector([&] {
    std::this_thread::sleep_for(300ms);
    driver->remove(layout::blob_dir("sha256", layer.hex()));
    driver->remove(tombstones::key(layer));
  });
  const auto begun = std::chrono::steady_clock::now();
  try {
    reg.put_manifest("r", "v1", media_type::kOciManifest, body);
    ADD_FAILURE() << "the PUT succeeded on a deleted blob";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kManifestBlobUnknown);
  }
  collector.join();
  EXPECT_GE(std::chrono::steady_clock::now() - begun, 250ms);
  EXPECT_FALSE(revision("r", digest_of(body)));
  driver->put_content(tombstones::key(config), "");
  std::thread again([&] {
    std::this_thread::sleep_for(300ms);
    driver->remove(layout::blob_dir("sha256", config.hex()));
    driver->remove(tombstones::key(config));
  });
  EXPECT_FALSE(reg.mount_blob("t", "r", config));
  again.join();
  EXPECT_FALSE(driver->stat(layout::layer_link("t", "sha256", config.hex())));
  // A stale marker: no wait, and the next collection with a grace window removes it.
  auto kept = blob("r", "kept");
  driver->put_content(tombstones::key(kept), "");
  fs::last_write_time(path(tombstones::key(kept)), fs::file_time_type::clock::now() - 5min);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(reg.mount_blob("u", "r", kept));
  EXPECT_LT(std::chrono::steady_clock::now() - start, tombstones::kWait / 2);
  collect({.grace = 1h});
  EXPECT_FALSE(driver->stat(tombstones::key(kept)));
  EXPECT_TRUE(blob_stored(kept));
}

TEST_F(GarbageCollectorTest, DeleteRepositoryKeepsNestedRepositories) {
  auto shared = image("a", "v1", "shared layer");
  image("a/b", "v1", "shared layer");
  auto own = image("a", "v2", "own layer");
  GarbageCollector gc(reg.storage_driver(), {});
  EXPECT_THROW(
      {
        try {
          gc.delete_repository("nope");
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kNameUnknown);
          throw;
        }
      },
      Error);
  EXPECT_THROW(gc.delete_repository("Bad Name"), Error);
  gc.delete_repository("a");
  EXPECT_EQ(reg.repository_list()->names(), std::vector<std::string>{"a/b"});
  EXPECT_FALSE(revision("a", shared));
  EXPECT_EQ(reg.get_manifest("a/b", "v1").digest, shared);
  EXPECT_TRUE(blob_stored(own));  // until the next collection
  collect();
  EXPECT_FALSE(blob_stored(own));
  EXPECT_FALSE(blob_stored(digest_of("own layer")));
  EXPECT_TRUE(blob_stored(digest_of("shared layer")));
  EXPECT_EQ(problems(), "");
  gc.delete_repository("a/b");
  EXPECT_FALSE(driver->stat(layout::repository("a")));
}

TEST_F(GarbageCollectorTest, RetentionDeletesTagsNoRuleKeepsAndWhatOnlyTheyNamed) {
  auto v1 = image("app", "v1", "layer one");
  auto v2 = image("app", "v2", "layer two");
  auto latest = image("app", "latest", "layer latest");
  auto other = image("other", "v1", "other layer");  // no policy matches "other"
  RetentionPolicy policy;
  policy.repositories = {"app"};
  policy.keep_tags.push_back({{"latest"}, std::nullopt, std::nullopt});
  policy.keep_tags.push_back({{"v.*"}, 1, std::nullopt});
  // v1 older than v2: the one most recent v* tag is v2.
  fs::last_write_time(path(layout::tag_current_link("app", "v1")),
                      fs::file_time_type::clock::now() - 1h);

  GcOptions dry;
  dry.dry_run = true;
  dry.delete_untagged = true;
  dry.retention = {policy};
  auto would = collect(dry);
  EXPECT_EQ(would.tags_deleted, 1u);
  EXPECT_EQ(would.manifests_deleted, 1u);  // v1's manifest, named by no other tag
  EXPECT_NO_THROW(reg.get_manifest("app", "v1"));
  EXPECT_NE(std::find(lines.begin(), lines.end(), "app: deleting tag v1 (retention)"), lines.end());

  GcOptions real = dry;
  real.dry_run = false;
  auto done = collect(real);
  EXPECT_TRUE(done.completed);
  EXPECT_EQ(done.tags_deleted, 1u);
  EXPECT_THROW(reg.get_manifest("app", "v1"), Error);
  EXPECT_FALSE(revision("app", v1));
  EXPECT_TRUE(revision("app", v2));
  EXPECT_TRUE(revision("app", latest));
  EXPECT_TRUE(revision("other", other));
  EXPECT_EQ(problems(), "");
}

TEST_F(GarbageCollectorTest, RetentionCollectsUntaggedRevisionsOlderThanItsLimit) {
  auto old_untagged = image("app", "", "old untagged");
  auto tagged = image("app", "v1", "tagged");
  age_everything(48h);
  auto new_untagged = image("app", "", "new untagged");
  RetentionPolicy policy;
  policy.repositories = {"app"};
  policy.untagged_older_than = std::chrono::seconds(24h);
  GcOptions options;
  options.retention = {policy};
  auto result = collect(options);  // without delete_untagged: only the policy's limit applies
  EXPECT_TRUE(result.completed);
  EXPECT_EQ(result.tags_deleted, 0u);
  EXPECT_FALSE(revision("app", old_untagged));
  EXPECT_TRUE(revision("app", new_untagged));
  EXPECT_TRUE(revision("app", tagged));
  EXPECT_EQ(problems(), "");
}

// Reads of the store; the first single stat of `key` (retention's look right before deleting a
// tag) comes after `meanwhile`, as if a push had landed between the listing and the delete.
class PushBeforeStat : public storage::ForwardingDriver {
 public:
  PushBeforeStat(std::shared_ptr<storage::Driver> driver, std::string key,
                 std::function<void()> meanwhile)
      : ForwardingDriver(std::move(driver)),
        key_(std::move(key)),
        meanwhile_(std::move(meanwhile)) {}
  std::optional<storage::FileInfo> stat(const std::string& key) override {
    if (key == key_ && meanwhile_) std::exchange(meanwhile_, nullptr)();
    return target().stat(key);
  }

 private:
  std::string key_;
  std::function<void()> meanwhile_;
};

TEST_F(GarbageCollectorTest, RetentionLeavesATagPushedAgainDuringTheRun) {
  image("app", "v1", "first");
  fs::last_write_time(path(layout::tag_current_link("app", "v1")),
                      fs::file_time_type::clock::now() - 1h);
  image("app", "v2", "second");
  RetentionPolicy policy;
  policy.repositories = {"app"};
  policy.keep_tags.push_back({{}, 1, std::nullopt});  // the newest tag only: v2
  GcOptions options;
  options.retention = {policy};
  auto reads = std::make_shared<PushBeforeStat>(reg.uncached_storage_driver(),
                                                layout::tag_current_link("app", "v1"),
                                                [&] { image("app", "v1", "first again"); });
  auto result = GarbageCollector(reg.storage_driver(), options, reads).run();
  EXPECT_TRUE(result.completed);
  EXPECT_EQ(result.tags_deleted, 0u);
  EXPECT_NO_THROW(reg.get_manifest("app", "v1"));
  EXPECT_EQ(problems(), "");
}

}  // namespace
}  // namespace onsen::registry
