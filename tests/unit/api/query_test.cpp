#include "api/query.h"
#include "api/errors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace onsen::api {
namespace {

TEST(Query, DecodesParameters) {
  Query q("n=10&last=a%2Fb&mount=sha256%3Aabc&flag");
  EXPECT_EQ(q.get("n"), "10");
  EXPECT_EQ(q.get("last"), "a/b");
  EXPECT_EQ(q.get("mount"), "sha256:abc");
  EXPECT_EQ(q.get("flag"), "");
  EXPECT_FALSE(q.get("missing"));
  EXPECT_FALSE(Query("").get("n"));
}

TEST(Errors, SpecJsonBody) {
  auto res = error_response(registry::ErrorCode::kBlobUnknown, "blob unknown to registry");
  EXPECT_EQ(res.status, 404u);
  EXPECT_EQ(res.headers.get("content-type"), "application/json");
  auto body = nlohmann::json::parse(std::get<std::string>(res.body));
  EXPECT_EQ(body["errors"][0]["code"], "BLOB_UNKNOWN");
  EXPECT_EQ(body["errors"][0]["message"], "blob unknown to registry");
}

TEST(Errors, StatusesFollowTheSpec) {
  using registry::ErrorCode;
  EXPECT_EQ(status_of(ErrorCode::kDigestInvalid), 400u);
  EXPECT_EQ(status_of(ErrorCode::kManifestBlobUnknown), 400u);
  EXPECT_EQ(status_of(ErrorCode::kNameUnknown), 404u);
  EXPECT_EQ(status_of(ErrorCode::kUnsupported), 405u);
  EXPECT_EQ(status_of(ErrorCode::kRangeInvalid), 416u);
  EXPECT_EQ(status_of(ErrorCode::kUnauthorized), 401u);
}

}  // namespace
}  // namespace onsen::api
