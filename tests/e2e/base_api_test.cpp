// The /v2/ base route, common headers, error documents, unknown routes and wrong methods.
#include "server_fixture.h"
#include "support/registry_helpers.h"

namespace onsen::e2e {
namespace {

class BaseApiTest : public RegistryTest {};

TEST_F(BaseApiTest, BaseRouteAnswers200WithEmptyJsonObject) {
  auto r = c().get("/v2/");
  ASSERT_EQ(r.status, 200u) << r.describe();
  EXPECT_TRUE(HasApiVersionHeader(r));
  json j = parse_json(r.body);
  ASSERT_TRUE(j.is_object()) << r.describe();
  EXPECT_TRUE(j.empty()) << r.describe();
  EXPECT_EQ(r.header_or_empty("Content-Length"), std::to_string(r.body.size()));
}

TEST_F(BaseApiTest, BaseRouteWithoutTrailingSlashIsServedOrRedirected) {
  // registry:2 answers /v2 like /v2/ (or redirects); never an error page.
  auto r = c().get("/v2");
  EXPECT_TRUE(r.status == 200 || r.status == 301 || r.status == 307 || r.status == 308)
      << r.describe();
}

TEST_F(BaseApiTest, ApiVersionHeaderOnSuccessAndErrorResponses) {
  const std::string name = repo();
  const std::string digest = push_blob(c(), name, "api version header");
  EXPECT_TRUE(HasApiVersionHeader(c().get(blob_path(name, digest))));
  EXPECT_TRUE(HasApiVersionHeader(c().head(blob_path(name, digest))));
  EXPECT_TRUE(HasApiVersionHeader(c().get(blob_path(name, sha256_digest("missing")))));
  EXPECT_TRUE(HasApiVersionHeader(start_upload(c(), name)));
  EXPECT_TRUE(HasApiVersionHeader(c().get("/v2/" + name + "/tags/list")));
  EXPECT_TRUE(HasApiVersionHeader(get_manifest(c(), name, "nope")));
  EXPECT_TRUE(HasApiVersionHeader(c().get("/v2/_catalog")));
}

TEST_F(BaseApiTest, ErrorBodyHasCodeMessageAndDetail) {
  auto r = c().get(blob_path(repo(), sha256_digest("nothing here")));
  ASSERT_TRUE(IsOciError(r, 404, "BLOB_UNKNOWN"));
  json j = parse_json(r.body);
  const json& e = j["errors"][0];
  EXPECT_TRUE(e.contains("message") && e["message"].is_string()) << r.body;
}

TEST_F(BaseApiTest, UnknownRouteUnderV2Is404WithJsonBody) {
  for (const std::string& target : std::vector<std::string>{
           "/v2/" + repo() + "/nothing/here", "/v2/" + repo() + "/blobs", "/v2/_nothing"}) {
    auto r = c().get(target);
    EXPECT_EQ(r.status, 404u) << target << "\n" << r.describe();
    EXPECT_TRUE(parse_json(r.body).is_object()) << target << "\n" << r.describe();
    EXPECT_TRUE(HasApiVersionHeader(r)) << target;
  }
}

TEST_F(BaseApiTest, WrongMethodOnTagsListIs405WithJson) {
  const std::string name = repo();
  push_image(c(), name, "latest", 1);
  auto r = c().put("/v2/" + name + "/tags/list", "", {});
  EXPECT_EQ(r.status, 405u) << r.describe();
  EXPECT_TRUE(parse_json(r.body).is_object()) << r.describe();
}

TEST_F(BaseApiTest, WrongMethodOnManifestIs405WithJson) {
  const std::string name = repo();
  push_image(c(), name, "latest", 2);
  auto r = c().post(manifest_path(name, "latest"), "{}", {{"Content-Type", mt::kOciManifest}});
  EXPECT_EQ(r.status, 405u) << r.describe();
  EXPECT_TRUE(parse_json(r.body).is_object()) << r.describe();
}

TEST_F(BaseApiTest, WrongMethodOnBlobIs405WithJson) {
  const std::string name = repo();
  const std::string digest = push_blob(c(), name, "wrong method blob");
  auto r = c().put(blob_path(name, digest), "x", {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(r.status, 405u) << r.describe();
  EXPECT_TRUE(parse_json(r.body).is_object()) << r.describe();
}

TEST_F(BaseApiTest, WrongMethodOnCatalogIs405WithJson) {
  auto r = c().del("/v2/_catalog");
  EXPECT_EQ(r.status, 405u) << r.describe();
  EXPECT_TRUE(parse_json(r.body).is_object()) << r.describe();
}

TEST_F(BaseApiTest, PathOutsideV2IsNotFound) {
  auto r = c().get("/v1/_ping");
  EXPECT_EQ(r.status, 404u) << r.describe();
}

}  // namespace
}  // namespace onsen::e2e
