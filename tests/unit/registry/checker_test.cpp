// The storage consistency checker (`onsen check`) over the in-memory driver: a registry written
// by Registry is clean; each kind of damage is reported once, naming the key.
#include "registry/checker.h"

#include "push.h"
#include "registry/registry.h"
#include "storage/inmemory.h"
#include "storage/layout.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace onsen::registry {
namespace {

namespace layout = storage::layout;

class CheckerTest : public ::testing::Test {
 protected:
  std::shared_ptr<storage::InMemoryDriver> driver = std::make_shared<storage::InMemoryDriver>();
  Registry reg{driver, RegistryOptions{.delete_enabled = true}};
  std::vector<std::pair<std::string, std::string>> problems;

  CheckSummary check() {
    problems.clear();
    return Checker(driver).run([this](const std::string& key, const std::string& what) {
      problems.emplace_back(key, what);
    });
  }

  Digest push_blob(const std::string& repo, const std::string& content) {
    return test::push_blob(reg, repo, content);
  }

  // An OCI image (config + one layer) in repo, tagged `tag`; returns the manifest digest.
  Digest push_image(const std::string& repo, const std::string& tag, const std::string& layer) {
    auto config = push_blob(repo, "{}");
    auto blob = push_blob(repo, layer);
    return reg
        .put_manifest(repo, tag, media_type::kOciManifest,
                      test::image_manifest(config, blob, layer.size()))
        .digest;
  }

  // A manifest in repo whose subject is `subject` (an image with an artifactType); `note` makes
  // it distinct.
  Digest push_referrer(const std::string& repo, const Digest& subject, const std::string& note) {
    auto config = push_blob(repo, "{}");
    std::string manifest =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("artifactType":"application/x-note","config":{"mediaType":)"
        R"("application/vnd.oci.empty.v1+json","digest":")" +
        config.str() +
        R"(","size":2},"layers":[],"subject":{"mediaType":)"
        R"("application/vnd.oci.image.manifest.v1+json","digest":")" +
        subject.str() + R"(","size":1},"annotations":{"note":")" + note + R"("}})";
    return reg
        .put_manifest(repo, "sha256:" + digest_of(manifest).hex(), media_type::kOciManifest,
                      manifest)
        .digest;
  }

  std::string entry(const std::string& repo, const Digest& subject, const Digest& referrer) {
    return layout::referrer_link(repo, subject.algorithm(), subject.hex(), referrer.algorithm(),
                                 referrer.hex());
  }

  // The single problem reported, or a failure naming all of them.
  std::pair<std::string, std::string> only_problem() {
    std::string all;
    for (auto& [key, what] : problems) all += key + ": " + what + "\n";
    EXPECT_EQ(problems.size(), 1u) << all;
    return problems.empty() ? std::pair<std::string, std::string>{} : problems.front();
  }
};

TEST_F(CheckerTest, EmptyStorageIsClean) {
  auto summary = check();
  EXPECT_EQ(summary.problems, 0u);
  EXPECT_EQ(summary.blobs, 0u);
  EXPECT_TRUE(problems.empty());
}

TEST_F(CheckerTest, RegistryWrittenByOnsenIsClean) {
  push_image("library/app", "v1", "layer one");
  auto second = push_image("library/app", "v2", "layer two");
  push_image("other", "latest", "layer one");  // shares a blob with library/app
  ASSERT_TRUE(reg.mount_blob("mounted", "other", digest_of("layer one")));
  reg.delete_manifest("library/app", second.str());
  auto id = reg.start_upload("other");  // an unfinished upload is not a problem
  reg.open_upload("other", id)->write("partial", 7);

  auto summary = check();
  EXPECT_TRUE(problems.empty()) << problems.front().first << ": " << problems.front().second;
  EXPECT_EQ(summary.problems, 0u);
  // "{}", two layers, two manifests (library/app:v1 and other:latest have the same bytes).
  EXPECT_EQ(summary.blobs, 5u);
  EXPECT_EQ(summary.repositories, 3u);
  EXPECT_EQ(summary.tags, 2u);
  EXPECT_EQ(summary.manifests, 2u);
}

TEST_F(CheckerTest, ReportsBlobWhoseContentDoesNotMatchItsDigest) {
  auto digest = push_blob("repo", "good bytes");
  const auto key = layout::blob_data("sha256", digest.hex());
  driver->put_content(key, "evil bytes");
  check();
  auto [where, what] = only_problem();
  EXPECT_EQ(where, key);
  EXPECT_NE(what.find("hashes to " + digest_of("evil bytes").str()), std::string::npos) << what;
}

TEST_F(CheckerTest, ReportsTemporaryFileLeftInABlobDirectory) {
  auto digest = push_blob("repo", "content");
  const auto key = layout::blob_dir("sha256", digest.hex()) + "/.tmp-AbC123";
  driver->put_content(key, "half");
  check();
  EXPECT_EQ(only_problem().first, key);
}

TEST_F(CheckerTest, ReportsLinkWithoutAValidDigest) {
  auto digest = push_blob("repo", "content");
  const auto key = layout::layer_link("repo", "sha256", digest.hex());
  driver->put_content(key, "sha256:oops");
  check();
  auto [where, what] = only_problem();
  EXPECT_EQ(where, key);
  EXPECT_NE(what.find("valid digest"), std::string::npos) << what;
}

TEST_F(CheckerTest, ReportsLinkToAMissingBlob) {
  auto digest = push_blob("repo", "content");
  driver->remove(layout::blob_dir("sha256", digest.hex()));
  check();
  auto [where, what] = only_problem();
  EXPECT_EQ(where, layout::layer_link("repo", "sha256", digest.hex()));
  EXPECT_NE(what.find("blob is missing"), std::string::npos) << what;
}

TEST_F(CheckerTest, ReportsLinkWhoseDigestDiffersFromItsPath) {
  auto a = push_blob("repo", "a");
  auto b = push_blob("repo", "b");
  const auto key = layout::layer_link("repo", "sha256", a.hex());
  driver->put_content(key, b.str());
  check();
  auto [where, what] = only_problem();
  EXPECT_EQ(where, key);
  EXPECT_NE(what.find("path names " + a.str()), std::string::npos) << what;
}

TEST_F(CheckerTest, ReportsTagPointingAtAManifestNotInTheRepository) {
  push_image("repo", "v1", "layer");
  auto foreign = push_blob("repo", "not a revision");
  const auto key = layout::tag_current_link("repo", "v1");
  driver->put_content(key, foreign.str());
  check();
  auto [where, what] = only_problem();
  EXPECT_EQ(where, key);
  EXPECT_NE(what.find("not a revision"), std::string::npos) << what;
}

TEST_F(CheckerTest, ReportsTagWithoutCurrentLink) {
  auto digest = push_image("repo", "v1", "layer");
  driver->remove(layout::tag_dir("repo", "v1") + "/current");
  check();
  auto [where, what] = only_problem();
  EXPECT_EQ(where, layout::tag_dir("repo", "v1"));
  EXPECT_NE(what.find("no current link"), std::string::npos) << what;
  (void)digest;
}

TEST_F(CheckerTest, ReportsRevisionThatDoesNotParse) {
  const std::string junk = "this is not a manifest";
  auto digest = push_blob("repo", junk);
  driver->put_content(layout::revision_link("repo", "sha256", digest.hex()), digest.str());
  check();
  auto [where, what] = only_problem();
  EXPECT_EQ(where, layout::revision_link("repo", "sha256", digest.hex()));
  EXPECT_NE(what.find("does not parse"), std::string::npos) << what;
}

TEST_F(CheckerTest, EmptyLinkDirectoriesAndUploadDebrisAreNotProblems) {
  auto digest = push_image("repo", "v1", "layer");
  // What an interrupted delete leaves: the link gone, its directory still there.
  driver->remove(layout::layer_link("repo", "sha256", digest_of("layer").hex()));
  driver->put_content(layout::uploads_dir("repo") + "/.tmp-xyz", "debris");
  driver->put_content(layout::upload_data("repo", "not-an-upload"), "debris");
  auto summary = check();
  EXPECT_TRUE(problems.empty()) << problems.front().first << ": " << problems.front().second;
  EXPECT_EQ(summary.problems, 0u);
  (void)digest;
}

TEST_F(CheckerTest, ReferrersIndexWrittenByOnsenIsClean) {
  auto subject = push_image("repo", "v1", "layer");
  auto kept = push_referrer("repo", subject, "kept");
  auto deleted = push_referrer("repo", subject, "deleted");
  push_referrer("repo", kept, "a referrer of a referrer");
  reg.delete_manifest("repo", deleted.str());
  EXPECT_FALSE(driver->stat(entry("repo", subject, deleted)));  // DELETE removed its entry
  // What a crash between the entry and the revision link, or a DELETE by registry:2, leaves: an
  // entry naming no revision. Readers skip it; not a problem.
  auto never_linked = digest_of("never linked");
  driver->put_content(entry("repo", subject, never_linked), never_linked.str());
  auto summary = check();
  EXPECT_TRUE(problems.empty()) << problems.front().first << ": " << problems.front().second;
  EXPECT_EQ(summary.manifests, 3u);
  EXPECT_EQ(reg.referrers("repo", subject, "").size(), 1u);
}

TEST_F(CheckerTest, ReportsRevisionWithASubjectButNoIndexEntry) {
  // As registry:2 leaves it: it stores a manifest with a subject and knows nothing of the index.
  auto subject = push_image("repo", "v1", "layer");
  auto referrer = push_referrer("repo", subject, "r");
  driver->remove(entry("repo", subject, referrer));
  check();
  auto [where, what] = only_problem();
  EXPECT_EQ(where, layout::revision_link("repo", "sha256", referrer.hex()));
  EXPECT_NE(what.find("has subject " + subject.str() + " but no referrers index entry"),
            std::string::npos)
      << what;
  // The repair path: pushing the manifest again writes the entry.
  push_referrer("repo", subject, "r");
  check();
  EXPECT_TRUE(problems.empty()) << problems.front().first << ": " << problems.front().second;
}

TEST_F(CheckerTest, ReportsIndexEntryUnderTheWrongSubject) {
  auto subject = push_image("repo", "v1", "layer");
  auto other = push_image("repo", "v2", "other layer");
  auto referrer = push_referrer("repo", subject, "r");
  const auto key = entry("repo", other, referrer);
  driver->put_content(key, referrer.str());
  check();
  auto [where, what] = only_problem();
  EXPECT_EQ(where, key);
  EXPECT_NE(what.find("its subject is " + subject.str()), std::string::npos) << what;
  EXPECT_TRUE(reg.referrers("repo", other, "").empty());  // never served
}

TEST_F(CheckerTest, ReportsIndexEntryForAManifestWithoutASubject) {
  auto subject = push_image("repo", "v1", "layer");
  auto plain = push_image("repo", "v2", "other layer");
  const auto key = entry("repo", subject, plain);
  driver->put_content(key, plain.str());
  check();
  auto [where, what] = only_problem();
  EXPECT_EQ(where, key);
  EXPECT_NE(what.find("has no subject"), std::string::npos) << what;
}

TEST_F(CheckerTest, ReportsIndexEntryWhoseLinkDiffersFromItsPath) {
  auto subject = push_image("repo", "v1", "layer");
  auto a = push_referrer("repo", subject, "a");
  auto b = push_referrer("repo", subject, "b");
  const auto key = entry("repo", subject, a);
  driver->put_content(key, b.str());
  driver->put_content(layout::referrers_root("repo") + "/sha256/not-a-digest/sha256/x/link", "x");
  check();
  ASSERT_EQ(problems.size(), 3u);  // the wrong link, the stray directory, and a lost its entry
  std::set<std::string> keys;
  for (auto& [where, what] : problems) keys.insert(where);
  EXPECT_TRUE(keys.count(key));
  EXPECT_TRUE(keys.count(layout::referrers_root("repo") + "/sha256/not-a-digest"));
  EXPECT_TRUE(keys.count(layout::revision_link("repo", "sha256", a.hex())));
}

}  // namespace
}  // namespace onsen::registry
