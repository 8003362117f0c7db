// A storage backend that keeps failing (S3 answering 503 SlowDown or 500 to every retry) becomes
// 503 with the spec's JSON body (UNAVAILABLE), never a hang or a 500; runs when the suite runs on
// S3 (ctest's s3.e2e: ONSEN_E2E_STORAGE=s3), with a fault-injecting proxy before the gateway.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "server_fixture.h"
#include "support/fault_proxy.h"
#include "support/s3_gateway.h"

namespace onsen::e2e {
namespace {

TEST(StorageUnavailable, PersistentS3FailuresAre503Unavailable) {
  const char* kind = std::getenv("ONSEN_E2E_STORAGE");
  if (kind == nullptr || std::string(kind) != "s3") {
    GTEST_SKIP() << "needs the s3 driver (ONSEN_E2E_STORAGE=s3, ctest -L s3)";
  }
  auto gateway = find_s3_gateway();
  ASSERT_TRUE(gateway);
  for (auto [status, code] : {std::pair{503u, "SlowDown"}, std::pair{500u, "InternalError"}}) {
    SCOPED_TRACE(code);
    FaultProxy proxy(gateway->endpoint, 1 << 30, status, code);
    ServerOptions options;
    options.env = {"REGISTRY_STORAGE_S3_REGIONENDPOINT=" + proxy.endpoint()};
    OnsenServer server(options);
    ASSERT_TRUE(server.start()) << server.error() << server.log_tail();
    auto c = server.client();
    const std::vector<std::string> targets = {"/v2/e2e/down/tags/list",
                                              "/v2/e2e/down/manifests/latest",
                                              "/v2/e2e/down/blobs/sha256:" + std::string(64, 'a')};
    for (const auto& target : targets) {
      SCOPED_TRACE(target);
      auto res = c->get(target);
      EXPECT_EQ(res.status, 503);
      auto body = nlohmann::json::parse(res.body, nullptr, false);
      ASSERT_FALSE(body.is_discarded()) << res.body;
      EXPECT_EQ(body["errors"][0]["code"], "UNAVAILABLE") << res.body;
    }
    auto post = c->post("/v2/e2e/down/blobs/uploads/");
    EXPECT_EQ(post.status, 503) << post.body;
    EXPECT_GT(proxy.failed(), 0);
    EXPECT_EQ(proxy.forwarded(), 0);
  }
}

}  // namespace
}  // namespace onsen::e2e
