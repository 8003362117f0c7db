#include "api/errors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

namespace onsen::api {
namespace {

using registry::ErrorCode;

TEST(Errors, SpecJsonBody) {
  auto res = error_response(ErrorCode::kBlobUnknown, "blob unknown to registry");
  EXPECT_EQ(res.status, 404u);
  EXPECT_EQ(res.headers.get("content-type"), "application/json");
  auto body = nlohmann::json::parse(std::get<std::string>(res.body));
  EXPECT_EQ(body["errors"][0]["code"], "BLOB_UNKNOWN");
  EXPECT_EQ(body["errors"][0]["message"], "blob unknown to registry");
}

TEST(Errors, StatusesFollowTheSpec) {
  EXPECT_EQ(status_of(ErrorCode::kDigestInvalid), 400u);
  EXPECT_EQ(status_of(ErrorCode::kManifestBlobUnknown), 400u);
  EXPECT_EQ(status_of(ErrorCode::kNameUnknown), 404u);
  EXPECT_EQ(status_of(ErrorCode::kUnsupported), 405u);
  EXPECT_EQ(status_of(ErrorCode::kRangeInvalid), 416u);
  EXPECT_EQ(status_of(ErrorCode::kUnauthorized), 401u);
  EXPECT_EQ(status_of(ErrorCode::kDenied), 403u);
  EXPECT_EQ(code_name(ErrorCode::kDenied), "DENIED");
  EXPECT_EQ(status_of(ErrorCode::kUnavailable), 503u);  // a store down: the client may retry
  EXPECT_EQ(code_name(ErrorCode::kUnavailable), "UNAVAILABLE");
}

// Every code has exactly one descriptor, with a spec name and an error status.
TEST(Errors, TableCoversEveryCodeOnce) {
  std::set<ErrorCode> seen;
  for (const auto& d : error_descriptors()) {
    EXPECT_TRUE(seen.insert(d.code).second) << d.name;
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.status, 400u) << d.name;
    EXPECT_LE(d.status, 599u) << d.name;
    EXPECT_EQ(&descriptor_of(d.code), &d);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(ErrorCode::kInternal) + 1);
}

}  // namespace
}  // namespace onsen::api
