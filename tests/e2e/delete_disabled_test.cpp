// storage.delete.enabled = false: deletes of blobs and manifests are refused with 405
// UNSUPPORTED, and the content stays.
#include "server_fixture.h"
#include "support/registry_helpers.h"

namespace onsen::e2e {
namespace {

class DeleteDisabled : public DeleteDisabledTest {};

TEST_F(DeleteDisabled, BlobDeleteIs405Unsupported) {
  const std::string name = repo();
  const std::string digest = push_blob(c(), name, "cannot delete me");
  EXPECT_TRUE(IsOciError(c().del(blob_path(name, digest)), 405, "UNSUPPORTED"));
  auto r = c().get(blob_path(name, digest));
  EXPECT_EQ(r.status, 200u) << r.describe();
  EXPECT_EQ(r.body, "cannot delete me");
}

TEST_F(DeleteDisabled, ManifestDeleteByDigestIs405Unsupported) {
  const std::string name = repo();
  Image img = push_image(c(), name, "latest", 500);
  EXPECT_TRUE(IsOciError(c().del(manifest_path(name, img.digest)), 405, "UNSUPPORTED"));
  EXPECT_EQ(get_manifest(c(), name, img.digest).status, 200u);
  EXPECT_EQ(get_manifest(c(), name, "latest").status, 200u);
}

TEST_F(DeleteDisabled, ManifestDeleteByTagIs405Unsupported) {
  const std::string name = repo();
  push_image(c(), name, "latest", 501);
  EXPECT_TRUE(IsOciError(c().del(manifest_path(name, "latest")), 405, "UNSUPPORTED"));
  EXPECT_EQ(get_manifest(c(), name, "latest").status, 200u);
}

TEST_F(DeleteDisabled, PushAndPullStillWork) {
  const std::string name = repo();
  Image img = push_image(c(), name, "v1", 502);
  auto r = get_manifest(c(), name, "v1");
  ASSERT_EQ(r.status, 200u) << r.describe();
  EXPECT_EQ(r.body, img.manifest);
}

TEST_F(DeleteDisabled, UploadCancelStillWorks) {
  const std::string name = repo();
  auto start = start_upload(c(), name);
  ASSERT_EQ(start.status, 202u) << start.describe();
  const std::string target = relative_target(start.header_or_empty("Location"));
  auto d = c().del(target);
  EXPECT_EQ(d.status, 204u) << d.describe();
  EXPECT_TRUE(IsOciError(c().get(target), 404, "BLOB_UPLOAD_UNKNOWN"));
}

}  // namespace
}  // namespace onsen::e2e
