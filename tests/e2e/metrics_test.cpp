// /metrics of the debug listener (http.debug.prometheus) against a real server: the counters move
// by exactly the requests made (by route, method and code; bytes; storage operations; caches;
// authentication outcomes), the path is configurable, and without the key there is no /metrics
// while /debug/vars stays. (tests/metrics/prometheus_scrape_test.py has a real Prometheus scrape
// it and promtool lint it.)
#include "server_fixture.h"
#include "support/base64.h"
#include "support/registry_helpers.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace onsen::e2e {
namespace {

// The samples of an exposition, by their text before the value: `name{label="v",...}`.
std::map<std::string, double> parse_exposition(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

class MetricsTest : public ::testing::Test {
 protected:
  // Starts a server with a debug listener; `env` adds to it (the prometheus keys).
  void start(std::vector<std::string> env, ServerOptions options = {}) {
    debug_port_ = free_loopback_port();
    env.push_back("REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:" + std::to_string(debug_port_));
    options.env = std::move(env);
    server_ = std::make_unique<OnsenServer>(options);
    ASSERT_TRUE(server_->start()) << server_->error() << server_->log_tail();
    c_ = server_->client();
  }
  HttpResponse debug_get(const std::string& path) {
    return HttpClient("127.0.0.1", debug_port_).get(path);
  }
  std::map<std::string, double> scrape_once(const std::string& path) {
    auto r = debug_get(path);
    EXPECT_EQ(r.status, 200u) << r.describe();
    EXPECT_EQ(r.header_or_empty("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return parse_exposition(r.body);
  }
  // The samples once the requests made so far are all counted: a request is counted after its
  // response is written, so the client may see it a moment before the counters do. Scraped until
  // two scrapes 50 ms apart agree on the request counts (5 s at most).
  std::map<std::string, double> scrape(const std::string& path = "/metrics") {
    auto requests = [](const std::map<std::string, double>& samples) {
      double sum = 0;
      for (auto& [key, v] : samples) {
        if (key.starts_with("onsen_http_requests_total")) sum += v;
      }
      return sum;
    };
    auto samples = scrape_once(path);
    for (int i = 0; i < 100; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      auto again = scrape_once(path);
      if (requests(again) == requests(samples)) return again;
      samples = std::move(again);
    }
    return samples;
  }
  // A sample's value, 0 when absent (a series not yet counted).
  static double value(const std::map<std::string, double>& samples, const std::string& key) {
    auto it = samples.find(key);
    return it == samples.end() ? 0 : it->second;
  }

  std::unique_ptr<OnsenServer> server_;
  std::unique_ptr<HttpClient> c_;
  uint16_t debug_port_ = 0;
};

TEST_F(MetricsTest, RequestsStorageAndCachesCountWhatWasSent) {
  start({"REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED=true"});
  const std::string repo = "metrics/counted";
  const Image image = push_image(*c_, repo, "v1", 7);
  const auto before = scrape();

  constexpr int kManifestGets = 7, kBlobHeads = 5, kBlobGets = 3, kMissing = 4;
  for (int i = 0; i < kManifestGets; ++i) {
    ASSERT_EQ(get_manifest(*c_, repo, "v1").status, 200u);
  }
  for (int i = 0; i < kBlobHeads; ++i) {
    ASSERT_EQ(c_->head(blob_path(repo, image.layer_digest)).status, 200u);
  }
  for (int i = 0; i < kBlobGets; ++i) {
    ASSERT_EQ(c_->get(blob_path(repo, image.layer_digest)).status, 200u);
  }
  for (int i = 0; i < kMissing; ++i) {
    ASSERT_EQ(get_manifest(*c_, repo, "absent").status, 404u);
  }
  ASSERT_EQ(c_->get("/v2/" + repo + "/tags/list").status, 200u);
  ASSERT_EQ(c_->get("/v2/" + repo + "/tags/list").status, 200u);
  ASSERT_EQ(c_->get("/v2/_catalog").status, 200u);
  const auto after = scrape();

  auto delta = [&](const std::string& key) { return value(after, key) - value(before, key); };
  EXPECT_EQ(delta(R"(onsen_http_requests_total{code="200",method="get",route="manifest"})"),
            kManifestGets);
  EXPECT_EQ(delta(R"(onsen_http_requests_total{code="200",method="head",route="blob"})"),
            kBlobHeads);
  EXPECT_EQ(delta(R"(onsen_http_requests_total{code="200",method="get",route="blob"})"), kBlobGets);
  EXPECT_EQ(delta(R"(onsen_http_requests_total{code="404",method="get",route="manifest"})"),
            kMissing);
  EXPECT_EQ(delta(R"(onsen_http_requests_total{code="200",method="get",route="tags"})"), 2);
  EXPECT_EQ(delta(R"(onsen_http_requests_total{code="200",method="get",route="catalog"})"), 1);
  // The push before: one PUT of the manifest, the blobs' uploads.
  EXPECT_EQ(value(before, R"(onsen_http_requests_total{code="201",method="put",route="manifest"})"),
            1);
  EXPECT_GE(value(before, R"(onsen_http_requests_total{code="201",method="put",route="upload"})"),
            2);
  EXPECT_GE(value(before, R"(onsen_http_request_bytes_total{route="upload"})"),
            image.layer.size() + image.config.size());
  EXPECT_EQ(delta(R"(onsen_http_response_bytes_total{route="blob"})"),
            kBlobGets * image.layer.size());
  EXPECT_EQ(delta(R"(onsen_http_request_duration_seconds_count{route="manifest"})"),
            kManifestGets + kMissing);
  EXPECT_EQ(delta(R"(onsen_http_request_duration_seconds_bucket{route="manifest",le="+Inf"})"),
            kManifestGets + kMissing);
  EXPECT_GT(delta(R"(onsen_http_request_duration_seconds_sum{route="manifest"})"), 0);

  // The meter sits below the caches: on the filesystem (no read cache) each manifest GET reads
  // the storage (the tag's link, the revision) and each HEAD stats the blob; on S3 the read cache
  // answers some of them, so only the moves are certain there.
  const char* kind = std::getenv("ONSEN_E2E_STORAGE");
  const bool s3 = kind != nullptr && std::string(kind) == "s3";
  if (!s3) {
    EXPECT_GE(
        delta(R"(onsen_storage_operations_total{driver="filesystem",operation="get_content"})"),
        kManifestGets);
    EXPECT_GE(delta(R"(onsen_storage_operations_total{driver="filesystem",operation="stat"})"),
              kBlobHeads);
  }
  EXPECT_GE(
      value(before, s3 ? R"(onsen_storage_operations_total{driver="s3",operation="move"})"
                       : R"(onsen_storage_operations_total{driver="filesystem",operation="move"})"),
      2);  // the pushed blobs moved into place
  EXPECT_EQ(
      delta(R"(onsen_storage_operation_errors_total{driver="filesystem",operation="get_content"})"),
      0);
  EXPECT_EQ(
      delta(
          R"(onsen_storage_operation_duration_seconds_count{driver="filesystem",operation="get_content"})"),
      delta(R"(onsen_storage_operations_total{driver="filesystem",operation="get_content"})"));

  // The listing caches: the second tag list and the catalog come from memory or storage, each
  // lookup counted once.
  EXPECT_EQ(delta(R"(onsen_cache_requests_total{cache="tag_list",result="hit"})") +
                delta(R"(onsen_cache_requests_total{cache="tag_list",result="miss"})"),
            2);
  EXPECT_EQ(delta(R"(onsen_cache_requests_total{cache="catalog",result="hit"})") +
                delta(R"(onsen_cache_requests_total{cache="catalog",result="miss"})"),
            1);
  EXPECT_EQ(value(after, "onsen_uploads_in_progress"), 0);
  EXPECT_EQ(value(after, "onsen_gc_runs_total"), 0);
  // This test's client keeps its connection; the scrape's own is on the debug listener.
  EXPECT_GE(value(after, "onsen_http_connections_open"), 1);
}

TEST_F(MetricsTest, AuthenticationOutcomesAndVerificationCache) {
  TempDir dir;
  const std::string htpasswd = dir.path("htpasswd");
  std::ofstream(htpasswd) << htpasswd_line("alice", "wonderland");
  ServerOptions options;
  options.htpasswd_path = htpasswd;
  start({"REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED=true"}, options);
  const auto before = scrape();
  ASSERT_EQ(c_->get("/v2/").status, 401u);
  ASSERT_EQ(c_->get("/v2/", {{"Authorization", basic("alice", "wrong")}}).status, 401u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c_->get("/v2/", {{"Authorization", basic("alice", "wonderland")}}).status, 200u);
  }
  const auto after = scrape();
  auto delta = [&](const std::string& key) { return value(after, key) - value(before, key); };
  EXPECT_EQ(delta(R"(onsen_auth_requests_total{outcome="challenged"})"), 1);
  EXPECT_EQ(delta(R"(onsen_auth_requests_total{outcome="failure"})"), 1);
  EXPECT_EQ(delta(R"(onsen_auth_requests_total{outcome="success"})"), 3);
  EXPECT_EQ(delta(R"(onsen_auth_requests_total{outcome="throttled"})"), 0);
  // One bcrypt per distinct credentials, the repeated good ones from the verification cache.
  EXPECT_EQ(delta(R"(onsen_cache_requests_total{cache="auth_verification",result="miss"})"), 2);
  EXPECT_EQ(delta(R"(onsen_cache_requests_total{cache="auth_verification",result="hit"})"), 2);
  EXPECT_EQ(delta(R"(onsen_http_requests_total{code="401",method="get",route="base"})"), 2);
}

TEST_F(MetricsTest, GarbageCollectionRunsAndWhatTheyFreed) {
  start({"REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED=true"});
  push_blob(*c_, "metrics/gc", random_bytes(4096, 9));  // linked, in no manifest: collected
  ASSERT_EQ(c_->post("/admin/gc?grace=0s").status, 202u);
  for (int i = 0; i < 300 && parse_json(c_->get("/admin/gc").body).value("state", "") != "idle";
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto samples = scrape();
  EXPECT_EQ(value(samples, "onsen_gc_runs_total"), 1);
  EXPECT_EQ(value(samples, "onsen_gc_running"), 0);
  EXPECT_EQ(value(samples, "onsen_gc_blobs_deleted_total"), 1);
  EXPECT_EQ(value(samples, "onsen_gc_freed_bytes_total"), 4096);
  EXPECT_EQ(value(samples, "onsen_gc_manifests_deleted_total"), 0);
  EXPECT_GT(value(samples, "onsen_gc_last_duration_seconds"), 0);
  EXPECT_EQ(value(samples, R"(onsen_http_requests_total{code="202",method="post",route="admin"})"),
            1);
  EXPECT_GE(value(samples, R"(onsen_http_requests_total{code="200",method="get",route="admin"})"),
            1);
}

TEST_F(MetricsTest, PathIsConfigurable) {
  start({"REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED=true",
         "REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH=/custom/metrics"});
  const auto before = scrape("/custom/metrics");
  ASSERT_EQ(c_->get("/v2/").status, 200u);
  const auto after = scrape("/custom/metrics");
  const std::string key = R"(onsen_http_requests_total{code="200",method="get",route="base"})";
  EXPECT_EQ(value(after, key) - value(before, key), 1);
  EXPECT_EQ(debug_get("/metrics").status, 404u);
  EXPECT_EQ(debug_get("/debug/vars").status, 200u);
}

TEST_F(MetricsTest, NoMetricsUnlessEnabled) {
  start({});
  EXPECT_EQ(debug_get("/metrics").status, 404u);
  EXPECT_EQ(debug_get("/debug/vars").status, 200u);
}

}  // namespace
}  // namespace onsen::e2e
