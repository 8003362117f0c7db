// Request ids and the access log, read from a real server's output: every response carries an
// X-Request-Id, new for each request; the log lines written while serving a request carry the
// same id (a line from a blocking-pool thread: the bcrypt of a failed login; a line from an I/O
// thread after the pool gave the request back: a storage error); the access log line parses as
// Apache's combined log format with the right status, bytes and user, and the JSON formatter gives
// Distribution's fields.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server_fixture.h"

namespace onsen::e2e {
namespace {

namespace fs = std::filesystem;

const std::regex kUuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");

// host ident user [time] "request line" status bytes "referer" "user agent", then the request id.
const std::regex kCombined(
    R"re(^(\S+) (\S+) (\S+) \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "([^"\\]*(?:\\.[^"\\]*)*)" (\d{3}) (\d+) "([^"\\]*(?:\\.[^"\\]*)*)" "([^"\\]*(?:\\.[^"\\]*)*)" "([^"]*)"$)re");

// The log's complete lines: a last line without its newline is still being written.
std::vector<std::string> log_lines(const OnsenServer& server) {
  std::ifstream in(server.log_path(), std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (in.eof()) break;  // no newline after it
    lines.push_back(line);
  }
  return lines;
}

// The log's lines that contain `needle`, waiting up to 5 s for at least `count` of them (the
// access line is written just after the response).
std::vector<std::string> lines_with(const OnsenServer& server, const std::string& needle,
                                    size_t count = 1) {
  std::vector<std::string> found;
  for (int i = 0; i < 100; ++i) {
    found.clear();
    for (auto& line : log_lines(server)) {
      if (line.find(needle) != std::string::npos) found.push_back(line);
    }
    if (found.size() >= count) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return found;
}

// The access log line of the request whose id is `id`.
std::optional<std::smatch> combined_line(const OnsenServer& server, const std::string& id,
                                         std::string& storage) {
  for (auto& line : lines_with(server, "\"" + id + "\"")) {
    std::smatch m;
    storage = line;
    if (std::regex_match(storage, m, kCombined)) return m;
  }
  return std::nullopt;
}

std::string request_id(const HttpResponse& r) {
  EXPECT_EQ(r.header_count("X-Request-Id"), 1u) << r.describe();
  return r.header_or_empty("X-Request-Id");
}

class LoggingTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = {}) {
    server_ = std::make_unique<OnsenServer>(std::move(options));
    ASSERT_TRUE(server_->start()) << server_->error() << server_->log_tail();
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "--- server log ---\n" << server_->log_tail();
  }
  std::unique_ptr<OnsenServer> server_;
};

TEST_F(LoggingTest, EveryResponseHasItsOwnRequestId) {
  start();
  auto c = server_->client();
  std::set<std::string> ids;
  const std::vector<HttpResponse> responses = {
      c->get("/v2/"), c->get("/v2/e2e/ids/manifests/latest"),  // 200, 404
      c->head("/v2/e2e/ids/blobs/sha256:" + std::string(64, 'a')),
      c->send(make_request("BREW", "/v2/")),  // refused by the transport
  };
  for (const auto& r : responses) {
    std::string id = request_id(r);
    EXPECT_TRUE(std::regex_match(id, kUuid)) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), responses.size());

  // A proxy's id (bounded, plain characters) is kept; anything else is replaced.
  auto kept = c->get("/v2/", {{"X-Request-Id", "nginx-0f3a.9:b_c"}});
  EXPECT_EQ(request_id(kept), "nginx-0f3a.9:b_c");
  for (const std::string& bad : {std::string(65, 'a'), std::string("a b"), std::string("x\"y")}) {
    auto replaced = c->get("/v2/", {{"X-Request-Id", bad}});
    EXPECT_TRUE(std::regex_match(request_id(replaced), kUuid)) << bad;
  }
}

TEST_F(LoggingTest, AccessLogIsCombinedLogFormat) {
  start();
  auto c = server_->client();
  auto r = c->get("/v2/e2e/combined/manifests/latest",
                  {{"User-Agent", "e2e \"agent\" \\ 1.0"}, {"Referer", "http://example/x"}});
  ASSERT_EQ(r.status, 404u);
  const std::string id = request_id(r);
  std::string line;
  auto m = combined_line(*server_, id, line);
  ASSERT_TRUE(m) << "no combined line for " << id;
  EXPECT_EQ((*m)[1], "127.0.0.1");
  EXPECT_EQ((*m)[2], "-");
  EXPECT_EQ((*m)[3], "-");
  EXPECT_EQ((*m)[5], "GET /v2/e2e/combined/manifests/latest HTTP/1.1");
  EXPECT_EQ((*m)[6], "404");
  EXPECT_EQ((*m)[7], std::to_string(r.body.size()));
  EXPECT_EQ((*m)[8], "http://example/x");
  EXPECT_EQ((*m)[9], R"(e2e \"agent\" \\ 1.0)");
  EXPECT_EQ((*m)[10], id);
}

TEST_F(LoggingTest, AuthenticatedUserAndFailedLoginCarryTheRequestId) {
  TempDir dir("onsen-e2e-logs", "/tmp");
  {
    std::ofstream f(dir.path("htpasswd"));
    f << htpasswd_line("alice", "s3cret");
  }
  ServerOptions options;
  options.htpasswd_path = dir.path("htpasswd");
  start(options);
  auto c = server_->client();

  auto good = c->get("/v2/", {{"Authorization", "Basic YWxpY2U6czNjcmV0"}});  // alice:s3cret
  ASSERT_EQ(good.status, 200u) << good.describe();
  std::string line;
  auto m = combined_line(*server_, request_id(good), line);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)[3], "alice");
  EXPECT_EQ((*m)[6], "200");
  EXPECT_EQ((*m)[7], "2");

  // The password check runs on a blocking-pool thread: its line carries the request's id too.
  auto bad = c->get("/v2/", {{"Authorization", "Basic YWxpY2U6d3Jvbmc="}});  // alice:wrong
  ASSERT_EQ(bad.status, 401u) << bad.describe();
  const std::string id = request_id(bad);
  auto failed = lines_with(*server_, "authentication failed");
  ASSERT_FALSE(failed.empty());
  EXPECT_NE(failed.back().find("http.request.id=" + id), std::string::npos) << failed.back();
  m = combined_line(*server_, id, line);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)[3], "-");
  EXPECT_EQ((*m)[6], "401");
}

TEST_F(LoggingTest, StorageErrorLineCarriesTheRequestId) {
  const char* kind = std::getenv("ONSEN_E2E_STORAGE");
  if (kind != nullptr && std::string(kind) == "s3") GTEST_SKIP() << "breaks a filesystem tree";
  start();
  auto c = server_->client();
  Image image = push_image(*c, "e2e/broken", "v1", 7);
  // A directory where the tag's link file goes: writing it fails with EISDIR, a storage error.
  fs::create_directories(server_->dir() +
                         "/storage/docker/registry/v2/repositories/e2e/broken/_manifests/tags/v2/"
                         "current/link/in-the-way");
  auto r = push_manifest(*c, "e2e/broken", "v2", "application/vnd.oci.image.manifest.v1+json",
                         image.manifest);
  ASSERT_EQ(r.status, 500u) << r.describe();
  const std::string id = request_id(r);
  auto errors = lines_with(*server_, "storage error on PUT");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("http.request.id=" + id), std::string::npos) << errors[0];
}

TEST_F(LoggingTest, JsonFormatterGivesTheFields) {
  ServerOptions options;
  options.env = {"REGISTRY_LOG_FORMATTER=json"};
  start(options);
  auto c = server_->client();
  auto r = c->get("/v2/e2e/json/tags/list", {{"User-Agent", "e2e-json"}});
  ASSERT_EQ(r.status, 404u);
  const std::string id = request_id(r);
  // The server's own readiness probe also has an access line: wait for this request's.
  auto lines = lines_with(*server_, "\"" + id + "\"");
  std::optional<nlohmann::json> access;
  for (auto& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    if (j.value("http.request.id", "") == id && j.value("msg", "") == "response completed") {
      access = j;
    }
  }
  ASSERT_TRUE(access) << "no access line for " << id;
  auto& j = *access;
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["http.request.method"], "GET");
  EXPECT_EQ(j["http.request.uri"], "/v2/e2e/json/tags/list");
  EXPECT_EQ(j["http.response.status"], 404);
  EXPECT_EQ(j["http.response.written"], r.body.size());
  EXPECT_EQ(j["http.request.useragent"], "e2e-json");
  EXPECT_TRUE(std::regex_match(j["http.request.remoteaddr"].get<std::string>(),
                               std::regex(R"(127\.0\.0\.1:\d+)")))
      << j;
  EXPECT_TRUE(std::regex_match(j["http.response.duration"].get<std::string>(),
                               std::regex(R"(\d+\.\d{3}ms)")))
      << j;
  EXPECT_FALSE(j.contains("auth.user.name"));
  // Every line of the log is JSON.
  for (auto& line : log_lines(*server_)) {
    EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
  }
}

TEST_F(LoggingTest, AccessLogCanBeDisabled) {
  ServerOptions options;
  options.env = {"REGISTRY_LOG_ACCESSLOG_DISABLED=true"};
  start(options);
  auto c = server_->client();
  auto r = c->get("/v2/");
  const std::string id = request_id(r);
  auto again = c->get("/v2/e2e/off/manifests/latest");  // the first request's line would be out
  (void)request_id(again);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(lines_with(*server_, id, 0).empty());
}

}  // namespace
}  // namespace onsen::e2e
