// The registry core over the in-memory driver: uploads, manifests, tags, deletes, referrers.
#include "registry/registry.h"

#include "push.h"
#include "registry/error.h"
#include "storage/inmemory.h"
#include "storage/layout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

namespace onsen::registry {
namespace {

class RegistryTest : public ::testing::Test {
 protected:
  std::shared_ptr<storage::InMemoryDriver> driver = std::make_shared<storage::InMemoryDriver>();
  Registry reg{driver, RegistryOptions{.delete_enabled = true}};

  Digest push_blob(const std::string& repo, const std::string& content) {
    return test::push_blob(reg, repo, content);
  }

  // The layers these tests push are 5 bytes ("hello", "world").
  std::string image_manifest(const Digest& config, const Digest& layer,
                             const std::string& extra = "") {
    return test::image_manifest(config, layer, 5, extra);
  }

  static ErrorCode code_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    ADD_FAILURE() << "no registry::Error thrown";
    return ErrorCode::kInternal;
  }
};

TEST_F(RegistryTest, UploadedBlobIsVisibleOnlyInItsRepository) {
  auto digest = push_blob("a/b", "hello");
  EXPECT_EQ(reg.blob_size("a/b", digest), 5u);
  EXPECT_EQ(code_of([&] { reg.blob_size("other", digest); }), ErrorCode::kBlobUnknown);
  EXPECT_TRUE(driver->get_content(storage::layout::blob_data("sha256", digest.hex())));
}

TEST_F(RegistryTest, DigestMismatchLeavesNothingVisible) {
  auto id = reg.start_upload("r");
  auto session = reg.open_upload("r", id);
  session->write("abc", 3);
  auto claimed = digest_of("xyz");
  EXPECT_EQ(code_of([&] { session->finish(claimed); }), ErrorCode::kDigestInvalid);
  session.reset();
  EXPECT_EQ(code_of([&] { reg.blob_size("r", claimed); }), ErrorCode::kBlobUnknown);
  EXPECT_EQ(code_of([&] { reg.blob_size("r", digest_of("abc")); }), ErrorCode::kBlobUnknown);
  EXPECT_EQ(code_of([&] { reg.upload_size("r", id); }), ErrorCode::kBlobUploadUnknown);
}

TEST_F(RegistryTest, ChunkedUploadResumesAfterRestart) {
  auto id = reg.start_upload("r");
  reg.open_upload("r", id)->write("hel", 3);
  EXPECT_EQ(reg.upload_size("r", id), 3u);
  // A new Registry over the same storage has no hash checkpoint in memory: it resumes from the
  // hash state stored beside the upload (upload_hash_state_test.cpp), or rehashes without one.
  Registry restarted(driver, RegistryOptions{});
  auto session = restarted.open_upload("r", id);
  EXPECT_EQ(session->offset(), 3u);
  session->write("lo", 2);
  session->finish(digest_of("hello"));
  EXPECT_EQ(restarted.blob_size("r", digest_of("hello")), 5u);
}

TEST_F(RegistryTest, StoreAndHashOfAPieceMayRunOnTwoThreadsAtOnce) {
  std::string content;
  for (int i = 0; i < 300000; ++i) content += static_cast<char>(i * 7 + i / 251);
  auto id = reg.start_upload("r");
  auto session = reg.open_upload("r", id);
  for (size_t at = 0; at < content.size(); at += 100000) {
    const size_t n = std::min<size_t>(100000, content.size() - at);
    std::thread hashing([&] { session->hash(content.data() + at, n); });
    session->store(content.data() + at, n);
    hashing.join();
  }
  session->finish(digest_of(content));
  EXPECT_EQ(driver->get_content(storage::layout::blob_data("sha256", digest_of(content).hex())),
            content);
}

TEST_F(RegistryTest, Sha512Uploads) {
  auto id = reg.start_upload("r");
  auto session = reg.open_upload("r", id);
  session->write("hello", 5);
  auto digest = digest_of("hello", "sha512");
  session->finish(digest);
  EXPECT_EQ(reg.blob_size("r", digest), 5u);
}

TEST_F(RegistryTest, OneAppenderAtATime) {
  auto id = reg.start_upload("r");
  auto first = reg.open_upload("r", id);
  EXPECT_EQ(code_of([&] { reg.open_upload("r", id); }), ErrorCode::kBlobUploadInvalid);
  first.reset();
  EXPECT_NO_THROW(reg.open_upload("r", id));
}

TEST_F(RegistryTest, UploadIdsAreValidatedAndScopedToTheRepository) {
  auto id = reg.start_upload("a");
  EXPECT_EQ(code_of([&] { reg.upload_size("b", id); }), ErrorCode::kBlobUploadUnknown);
  EXPECT_EQ(code_of([&] { reg.upload_size("a", "../../x"); }), ErrorCode::kBlobUploadUnknown);
  reg.cancel_upload("a", id);
  EXPECT_EQ(code_of([&] { reg.upload_size("a", id); }), ErrorCode::kBlobUploadUnknown);
}

TEST_F(RegistryTest, MountLinksOnlyWhatTheSourceHas) {
  auto digest = push_blob("src", "data");
  EXPECT_FALSE(reg.mount_blob("dst", "nowhere", digest));
  EXPECT_TRUE(reg.mount_blob("dst", "src", digest));
  EXPECT_EQ(reg.blob_size("dst", digest), 4u);
}

TEST_F(RegistryTest, AutomaticCrossMountNeedsTheOptionAndALinkingRepository) {
  auto digest = push_blob("src", "data");
  EXPECT_FALSE(reg.mount_blob_from_any("dst", digest));  // the option is off
  Registry automatic{driver,
                     RegistryOptions{.delete_enabled = true, .automatic_cross_mount = true}};
  EXPECT_FALSE(automatic.mount_blob_from_any("dst", digest_of("never stored")));
  EXPECT_TRUE(automatic.mount_blob_from_any("dst", digest));
  EXPECT_EQ(automatic.blob_size("dst", digest), 4u);
  // Unlinked everywhere, the data waits for garbage collection: not mountable.
  automatic.delete_blob("src", digest);
  automatic.delete_blob("dst", digest);
  EXPECT_FALSE(automatic.mount_blob_from_any("other", digest));
}

TEST_F(RegistryTest, StagedChunkIsAppendedOnlyWhenCommitted) {
  auto id = reg.start_upload("r");
  {
    auto session = reg.open_upload("r", id);
    session->write("abc", 3);
    session->begin_chunk();
    session->write("XY", 2);
    EXPECT_EQ(session->offset(), 3u);
    session->discard_chunk();
    session->begin_chunk();
    session->write("Z", 1);
  }  // ended with a chunk open: it is dropped
  EXPECT_EQ(reg.upload_size("r", id), 3u);
  auto session = reg.open_upload("r", id);
  session->begin_chunk();
  session->write("def", 3);
  session->commit_chunk();
  EXPECT_EQ(session->offset(), 6u);
  session->finish(digest_of("abcdef"));
  EXPECT_EQ(reg.blob_size("r", digest_of("abcdef")), 6u);
}

TEST_F(RegistryTest, ManifestNeedsItsBlobs) {
  auto config = push_blob("r", "{}");
  auto layer = digest_of("layer");
  EXPECT_EQ(code_of([&] { reg.put_manifest("r", "v1", "", image_manifest(config, layer)); }),
            ErrorCode::kManifestBlobUnknown);
  push_blob("r", "layer");
  auto result = reg.put_manifest("r", "v1", "", image_manifest(config, layer));
  auto got = reg.get_manifest("r", "v1");
  EXPECT_EQ(got.digest, result.digest);
  EXPECT_EQ(got.media_type, "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(reg.get_manifest("r", result.digest.str()).bytes, got.bytes);
}

TEST_F(RegistryTest, PutByDigestChecksTheDigest) {
  auto config = push_blob("r", "{}");
  auto layer = push_blob("r", "layer");
  auto body = image_manifest(config, layer);
  EXPECT_EQ(code_of([&] { reg.put_manifest("r", digest_of("other").str(), "", body); }),
            ErrorCode::kDigestInvalid);
  EXPECT_NO_THROW(reg.put_manifest("r", digest_of(body).str(), "", body));
}

TEST_F(RegistryTest, DeleteByDigestRemovesTagsDeleteByTagOnlyTheTag) {
  auto config = push_blob("r", "{}");
  auto layer = push_blob("r", "layer");
  auto body = image_manifest(config, layer);
  auto digest = reg.put_manifest("r", "a", "", body).digest;
  reg.put_manifest("r", "b", "", body);
  reg.put_manifest("r", "c", "", body);
  reg.delete_manifest("r", "c");
  EXPECT_EQ(reg.tag_list("r")->names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(reg.get_manifest("r", "a").digest, digest);
  reg.delete_manifest("r", digest.str());
  // The repository's only manifest is gone, and the in-memory store keeps no empty directories
  // (as S3): the repository has no tags directory, hence unknown, as registry:2 answers there.
  EXPECT_EQ(code_of([&] { reg.tag_list("r"); }), ErrorCode::kNameUnknown);
  EXPECT_EQ(code_of([&] { reg.get_manifest("r", digest.str()); }), ErrorCode::kManifestUnknown);
  EXPECT_EQ(code_of([&] { reg.delete_manifest("r", "a"); }), ErrorCode::kManifestUnknown);
}

TEST_F(RegistryTest, DeletesRefusedWhenDisabled) {
  Registry no_delete(driver, RegistryOptions{});
  auto digest = push_blob("r", "x");
  EXPECT_EQ(code_of([&] { no_delete.delete_blob("r", digest); }), ErrorCode::kUnsupported);
}

TEST_F(RegistryTest, CatalogListsNestedRepositoriesSorted) {
  auto config = push_blob("z", "{}");
  auto layer = push_blob("z", "layer");
  for (std::string repo : {"z", "a/b/c", "a", "m/n"}) {
    reg.mount_blob(repo, "z", config);
    reg.mount_blob(repo, "z", layer);
    reg.put_manifest(repo, "v1", "", image_manifest(config, layer));
  }
  EXPECT_EQ(reg.repository_list()->names(), (std::vector<std::string>{"a", "a/b/c", "m/n", "z"}));
}

TEST_F(RegistryTest, ReferrersFollowSubjects) {
  auto config = push_blob("r", "{}");
  auto layer = push_blob("r", "layer");
  auto subject = reg.put_manifest("r", "v1", "", image_manifest(config, layer)).digest;
  auto extra =
      R"(,"artifactType":"application/x-sig","subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      subject.str() + R"(","size":10})";
  auto referrer = reg.put_manifest("r", "sig", "", image_manifest(config, layer, extra));
  ASSERT_TRUE(referrer.subject);
  EXPECT_EQ(*referrer.subject, subject);
  auto found = reg.referrers("r", subject, "");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].digest, referrer.digest);
  EXPECT_EQ(found[0].artifact_type, "application/x-sig");
  EXPECT_TRUE(reg.referrers("r", subject, "application/other").empty());
  EXPECT_TRUE(reg.referrers("r", referrer.digest, "").empty());
}

// The referrers come from the index (registry/referrers_index.h), each entry checked against the
// revision it names.
TEST_F(RegistryTest, ReferrersComeFromTheIndexCheckedAgainstTheRevisions) {
  auto config = push_blob("r", "{}");
  auto layer = push_blob("r", "layer");
  auto subject = reg.put_manifest("r", "v1", "", image_manifest(config, layer)).digest;
  auto other =
      reg.put_manifest("r", "v2", "", image_manifest(config, layer, R"(,"annotations":{"a":"b"})"))
          .digest;
  auto referrer_of = [&](const Digest& s, const std::string& note) {
    return image_manifest(
        config, layer,
        R"(,"annotations":{"n":")" + note +
            R"("},"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
            s.str() + R"(","size":10})");
  };
  auto a = reg.put_manifest("r", "a", "", referrer_of(subject, "a")).digest;
  auto b = reg.put_manifest("r", "b", "", referrer_of(subject, "b")).digest;
  auto entry = [&](const Digest& s, const Digest& d) {
    return storage::layout::referrer_link("r", s.algorithm(), s.hex(), d.algorithm(), d.hex());
  };
  ASSERT_TRUE(driver->stat(entry(subject, a)));
  std::vector<Digest> want{a, b};
  std::sort(want.begin(), want.end());
  auto found = reg.referrers("r", subject, "");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].digest, want[0]);  // sorted by digest
  EXPECT_EQ(found[1].digest, want[1]);

  // Without its entry a referrer is not found: the manifests are not scanned.
  driver->remove(entry(subject, a));
  ASSERT_EQ(reg.referrers("r", subject, "").size(), 1u);
  reg.put_manifest("r", a.str(), "", referrer_of(subject, "a"));  // pushing again repairs it
  EXPECT_EQ(reg.referrers("r", subject, "").size(), 2u);

  // Entries naming no revision, or filed under another subject, are not served.
  auto ghost = digest_of("no such revision");
  driver->put_content(entry(subject, ghost), ghost.str());
  driver->put_content(entry(other, a), a.str());
  EXPECT_EQ(reg.referrers("r", subject, "").size(), 2u);
  EXPECT_TRUE(reg.referrers("r", other, "").empty());

  // DELETE removes the entry with the revision; deleting by tag keeps both.
  reg.delete_manifest("r", "b");
  EXPECT_TRUE(driver->stat(entry(subject, b)));
  reg.delete_manifest("r", b.str());
  EXPECT_FALSE(driver->stat(entry(subject, b)));
  found = reg.referrers("r", subject, "");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].digest, a);
}

// Another Registry on the same storage (as another process on the same root) sees the referrers
// this one writes and removes.
TEST_F(RegistryTest, ReferrersAreSharedThroughStorage) {
  Registry other{driver, RegistryOptions{.delete_enabled = true}};
  auto config = push_blob("r", "{}");
  auto layer = push_blob("r", "layer");
  auto subject = reg.put_manifest("r", "v1", "", image_manifest(config, layer)).digest;
  auto extra =
      R"(,"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      subject.str() + R"(","size":10})";
  auto referrer = other.put_manifest("r", "sig", "", image_manifest(config, layer, extra)).digest;
  auto found = reg.referrers("r", subject, "");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].digest, referrer);
  reg.delete_manifest("r", referrer.str());
  EXPECT_TRUE(other.referrers("r", subject, "").empty());
}

TEST_F(RegistryTest, PurgeRemovesOnlyOldUploads) {
  auto old_id = reg.start_upload("a/b");
  auto now = std::chrono::system_clock::now();
  EXPECT_EQ(reg.purge_uploads(now - std::chrono::hours(1), false), 0u);
  EXPECT_EQ(reg.upload_size("a/b", old_id), 0u);
  EXPECT_EQ(reg.purge_uploads(now + std::chrono::seconds(5), true), 1u);  // dry run
  EXPECT_EQ(reg.upload_size("a/b", old_id), 0u);
  EXPECT_EQ(reg.purge_uploads(now + std::chrono::seconds(5), false), 1u);
  EXPECT_EQ(code_of([&] { reg.upload_size("a/b", old_id); }), ErrorCode::kBlobUploadUnknown);
}

TEST_F(RegistryTest, InvalidNamesAndTags) {
  EXPECT_EQ(code_of([&] { reg.start_upload("UPPER"); }), ErrorCode::kNameInvalid);
  EXPECT_EQ(code_of([&] { reg.put_manifest("r", "-bad", "", "{}"); }), ErrorCode::kTagInvalid);
  // A read of a tag that cannot exist is "unknown", as the conformance suite expects.
  EXPECT_EQ(code_of([&] { reg.get_manifest("r", "-bad"); }), ErrorCode::kManifestUnknown);
  EXPECT_EQ(code_of([&] { reg.get_manifest("r", "sha256:totallywrong"); }),
            ErrorCode::kDigestInvalid);
  EXPECT_EQ(code_of([&] { reg.tag_list("nothing"); }), ErrorCode::kNameUnknown);
}

}  // namespace
}  // namespace onsen::registry
