// The read cache on S3 (registry/read_caching_driver.h), counted at the gateway: a fault proxy that
// injects no fault forwards every request Onsen makes, so the requests a pull costs are exact.
// Runs when the suite runs on S3 (ctest's s3.e2e: ONSEN_E2E_STORAGE=s3, whose configuration sets
// storage.cache.blobdescriptor).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "server_fixture.h"
#include "support/fault_proxy.h"
#include "support/s3_gateway.h"

namespace onsen::e2e {
namespace {

class ReadCacheOnS3 : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* kind = std::getenv("ONSEN_E2E_STORAGE");
    if (kind == nullptr || std::string(kind) != "s3") {
      GTEST_SKIP() << "needs the s3 driver (ONSEN_E2E_STORAGE=s3, ctest -L s3)";
    }
    auto gateway = find_s3_gateway();
    ASSERT_TRUE(gateway);
    proxy_.emplace(gateway->endpoint, 0, 503, "SlowDown");
    ServerOptions options;
    options.env = {"REGISTRY_STORAGE_S3_REGIONENDPOINT=" + proxy_->endpoint()};
    server_.emplace(options);
    ASSERT_TRUE(server_->start()) << server_->error() << server_->log_tail();
    c_ = server_->client();
  }

  // Gateway requests made by f().
  template <typename F>
  int requests(F f) {
    int before = proxy_->forwarded();
    f();
    return proxy_->forwarded() - before;
  }

  std::optional<FaultProxy> proxy_;
  std::optional<OnsenServer> server_;
  std::unique_ptr<HttpClient> c_;
};

TEST_F(ReadCacheOnS3, ColdPullsMakeNoRedundantRequests) {
  auto digest = push_blob(*c_, "cache/cold", "a blob of its own");
  // The layer link, then one HEAD of the data (which a blob pushed here has not cached: the
  // push only found it absent, and absence is not cached).
  EXPECT_EQ(requests([&] { EXPECT_EQ(c_->head(blob_path("cache/cold", digest)).status, 200); }), 2);
  push_image(*c_, "cache/cold", "t", 7);
  // The tag's link, the revision link, one GET of the data (no HEAD before it).
  EXPECT_EQ(requests([&] { EXPECT_EQ(get_manifest(*c_, "cache/cold", "t").status, 200); }), 3);
}

TEST_F(ReadCacheOnS3, WarmPullsMakeNoRequests) {
  auto image = push_image(*c_, "cache/warm", "t", 1);
  ASSERT_EQ(get_manifest(*c_, "cache/warm", "t").status, 200);
  ASSERT_EQ(c_->head(blob_path("cache/warm", image.layer_digest)).status, 200);
  EXPECT_EQ(requests([&] {
              for (int i = 0; i < 5; ++i) {
                auto by_tag = get_manifest(*c_, "cache/warm", "t");
                EXPECT_EQ(by_tag.status, 200);
                EXPECT_EQ(by_tag.body, image.manifest);
                EXPECT_EQ(get_manifest(*c_, "cache/warm", image.digest).status, 200);
                EXPECT_EQ(head_manifest(*c_, "cache/warm", "t").status, 200);
                EXPECT_EQ(c_->head(blob_path("cache/warm", image.layer_digest)).status, 200);
                EXPECT_EQ(c_->head(blob_path("cache/warm", image.config_digest)).status, 200);
              }
            }),
            0);

  // What this server writes is read at once: a moved tag, a deleted manifest, a deleted blob.
  auto moved = push_image(*c_, "cache/warm", "t", 2);
  auto res = get_manifest(*c_, "cache/warm", "t");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.header_or_empty("Docker-Content-Digest"), moved.digest);
  EXPECT_EQ(c_->del(manifest_path("cache/warm", moved.digest)).status, 202);
  EXPECT_TRUE(IsOciError(get_manifest(*c_, "cache/warm", "t"), 404, "MANIFEST_UNKNOWN"));
  EXPECT_TRUE(IsOciError(get_manifest(*c_, "cache/warm", moved.digest), 404, "MANIFEST_UNKNOWN"));
  EXPECT_EQ(c_->del(blob_path("cache/warm", image.layer_digest)).status, 202);
  EXPECT_EQ(c_->head(blob_path("cache/warm", image.layer_digest)).status, 404);
}

}  // namespace
}  // namespace onsen::e2e
