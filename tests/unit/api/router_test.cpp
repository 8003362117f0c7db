#include "api/router.h"

#include <gtest/gtest.h>

namespace onsen::api {
namespace {

using Kind = Route::Kind;

void expect_route(std::string_view path, Kind kind, std::string name = "", std::string arg = "") {
  auto route = parse_route(path);
  EXPECT_EQ(route.kind, kind) << path;
  EXPECT_EQ(route.name, name) << path;
  EXPECT_EQ(route.arg, arg) << path;
}

TEST(Router, BaseAndCatalog) {
  expect_route("/v2/", Kind::kBase);
  expect_route("/v2", Kind::kBase);
  expect_route("/v2/_catalog", Kind::kCatalog);
}

TEST(Router, NamesWithSeveralComponents) {
  expect_route("/v2/a/b/c/manifests/latest", Kind::kManifest, "a/b/c", "latest");
  expect_route("/v2/a/tags/list", Kind::kTags, "a");
  expect_route("/v2/x/y/blobs/sha256:00", Kind::kBlob, "x/y", "sha256:00");
  expect_route("/v2/x/referrers/sha256:00", Kind::kReferrers, "x", "sha256:00");
}

TEST(Router, Uploads) {
  expect_route("/v2/a/blobs/uploads/", Kind::kUploads, "a");
  expect_route("/v2/a/blobs/uploads", Kind::kUploads, "a");
  expect_route("/v2/a/b/blobs/uploads/1234", Kind::kUpload, "a/b", "1234");
}

TEST(Router, ComponentsThatLookLikeKeywords) {
  // "blobs", "tags" and "manifests" are valid name components; the end of the path decides.
  expect_route("/v2/blobs/manifests/latest", Kind::kManifest, "blobs", "latest");
  expect_route("/v2/tags/tags/list", Kind::kTags, "tags");
}

TEST(Router, NotRegistryPaths) {
  expect_route("/", Kind::kNotFound);
  expect_route("/v1/", Kind::kNotFound);
  expect_route("/v2/a", Kind::kNotFound);
  expect_route("/v2/a/manifests", Kind::kNotFound);
  expect_route("/v2/%2e%2e/manifests/latest", Kind::kNotFound);
  expect_route("/v2/a/blobs/uploads/x/y", Kind::kNotFound);
}

}  // namespace
}  // namespace onsen::api
