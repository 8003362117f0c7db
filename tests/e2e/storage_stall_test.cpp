// "Never a hang": an Onsen whose s3 storage points at a gateway that accepts connections and never
// answers (support/stall_server.h) answers each request 503 with the spec's JSON body
// (UNAVAILABLE) within a bound — the driver's timeout (storage.s3.timeout: 1s here) times its
// retries — while requests that need no storage go on being answered meanwhile. No real gateway
// needed: the storage block comes from REGISTRY_STORAGE=s3 and its variables.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "server_fixture.h"
#include "support/stall_server.h"

namespace onsen::e2e {
namespace {

using Clock = std::chrono::steady_clock;

TEST(StorageStall, AStalledS3GatewayIs503UnavailableNotAHang) {
  StallServer gateway({.mode = StallServer::Mode::kSilent});
  ServerOptions options;
  options.env = {"REGISTRY_STORAGE=s3",
                 "REGISTRY_STORAGE_S3_REGION=us-east-1",
                 "REGISTRY_STORAGE_S3_BUCKET=stalled",
                 "REGISTRY_STORAGE_S3_ACCESSKEY=onsen",
                 "REGISTRY_STORAGE_S3_SECRETKEY=onsen-secret",
                 "REGISTRY_STORAGE_S3_SECURE=false",
                 "REGISTRY_STORAGE_S3_REGIONENDPOINT=" + gateway.endpoint(),
                 "REGISTRY_STORAGE_S3_TIMEOUT=1s",
                 "REGISTRY_STORAGE_REDIRECT_DISABLE=true"};
  OnsenServer server(options);
  ASSERT_TRUE(server.start()) << server.error() << server.log_tail();

  // Five attempts of 1 s each and their backoff per driver call: about 6.5 s. The bound leaves
  // room for a loaded 2-core machine; the client's own timeout (60 s) is what a hang would hit.
  constexpr double kBoundSeconds = 30;
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"GET", "/v2/e2e/stalled/tags/list"},
      {"GET", "/v2/e2e/stalled/manifests/latest"},
      {"GET", "/v2/e2e/stalled/blobs/sha256:" + std::string(64, 'a')},
      {"POST", "/v2/e2e/stalled/blobs/uploads/"}};
  std::vector<std::future<std::pair<HttpResponse, double>>> answers;
  for (const auto& [method, target] : requests) {
    answers.push_back(std::async(std::launch::async, [&server, method, target] {
      auto c = server.client();
      const auto start = Clock::now();
      HttpResponse res = c->send(make_request(method, target));
      return std::pair{res, std::chrono::duration<double>(Clock::now() - start).count()};
    }));
  }
  // While those wait on the store, the I/O threads still answer what needs none of it.
  {
    auto c = server.client();
    const auto start = Clock::now();
    EXPECT_EQ(c->get("/v2/").status, 200);
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5.0);
  }
  for (size_t i = 0; i < answers.size(); ++i) {
    SCOPED_TRACE(requests[i].first + " " + requests[i].second);
    auto [res, seconds] = answers[i].get();
    EXPECT_EQ(res.status, 503) << res.describe();
    EXPECT_LT(seconds, kBoundSeconds);
    auto body = nlohmann::json::parse(res.body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << res.describe();
    EXPECT_EQ(body["errors"][0]["code"], "UNAVAILABLE") << res.body;
  }
  EXPECT_GT(gateway.connections(), 0);
}

}  // namespace
}  // namespace onsen::e2e
