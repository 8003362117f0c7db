// htpasswd authentication against a real server: every route and method refuses anonymous and
// wrong credentials with 401 and leaks no data; good credentials work; failed logins are throttled
// per address and user name, with a 429 a person can read.
#include "server_fixture.h"
#include "support/base64.h"
#include "support/registry_helpers.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

namespace onsen::e2e {
namespace {

using namespace std::chrono_literals;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    htpasswd_ = dir_.path("htpasswd");
    std::ofstream(htpasswd_) << htpasswd_line("alice", "wonderland")
                             << htpasswd_line("carol", "cheshire");
    start_server("");
  }
  // (Re)starts the server with auth.htpasswd.throttle = `throttle` (empty: the defaults).
  void start_server(const std::string& throttle) {
    server_.reset();
    ServerOptions options;
    options.htpasswd_path = htpasswd_;
    options.throttle = throttle;
    options.env = {"REGISTRY_USAGE_ENABLED=true"};  // for /admin/usage
    server_ = std::make_unique<OnsenServer>(options);
    ASSERT_TRUE(server_->start()) << server_->error() << "\n" << server_->log_tail();
  }
  unsigned status_as(const std::string& user, const std::string& password) {
    return server_->client()->get("/v2/", {{"Authorization", basic(user, password)}}).status;
  }
  // New wrong passwords for `user` until one is answered 429 (at most 5): on a loaded machine the
  // first block (1 s) may run out between two requests.
  HttpResponse guess_until_throttled(const std::string& user) {
    HttpResponse r;
    for (int i = 0; i < 5 && r.status != 429; ++i) {
      r = server_->client()->get("/v2/_catalog",
                                 {{"Authorization", basic(user, "more-" + std::to_string(i))}});
    }
    return r;
  }
  // The status of a login with `password` once every Retry-After it is told has passed (10 s).
  unsigned status_after_retry(const std::string& user, const std::string& password) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      auto r = server_->client()->get("/v2/", {{"Authorization", basic(user, password)}});
      if (r.status != 429 || std::chrono::steady_clock::now() > deadline) return r.status;
      std::this_thread::sleep_for(
          std::chrono::seconds(std::max(1, std::atoi(r.header_or_empty("Retry-After").c_str()))));
    }
  }
  // A 429 as issue 9 wants it: the spec's JSON error, Retry-After, and `message` with the same
  // number of seconds.
  static void expect_throttled(const HttpResponse& r, const std::string& message) {
    ASSERT_EQ(r.status, 429u) << r.body;
    EXPECT_TRUE(IsOciError(r, 429, "TOOMANYREQUESTS"));
    std::string retry_after = r.header_or_empty("Retry-After");
    EXPECT_FALSE(retry_after.empty());
    EXPECT_NE(r.body.find(message + "; retry after " + retry_after + " s"), std::string::npos)
        << r.body;
    EXPECT_TRUE(HasApiVersionHeader(r));
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "--- onsen log ---\n" << server_->log_tail() << "\n";
    server_.reset();
  }
  std::unique_ptr<HttpClient> authed() {
    auto c = server_->client();
    c->set_default_header("Authorization", basic("alice", "wonderland"));
    return c;
  }

  TempDir dir_{"onsen-e2e-auth", "/tmp"};
  std::string htpasswd_;
  std::unique_ptr<OnsenServer> server_;
};

struct Call {
  std::string method;
  std::string target;
};

// Every route and method of the API, aimed at content that exists (so a leak would show): each
// Route::Kind of src/api/router.h with every method Api::dispatch serves on it, both spellings
// of the uploads route, a method a route does not serve, and a path that is no route at all.
std::vector<Call> every_route(const std::string& repo, const Image& image,
                              const std::string& upload) {
  const std::string blob = blob_path(repo, image.layer_digest);
  const std::string by_tag = manifest_path(repo, "v1");
  const std::string by_digest = manifest_path(repo, image.digest);
  const std::string tags = "/v2/" + repo + "/tags/list";
  const std::string referrers = "/v2/" + repo + "/referrers/" + image.digest;
  const std::string up = "/v2/" + repo + "/blobs/uploads/" + upload;
  return {
      {"GET", "/v2/"},  // kBase
      {"HEAD", "/v2/"},
      {"GET", "/v2"},
      {"GET", "/v2/_catalog"},  // kCatalog
      {"HEAD", "/v2/_catalog"},
      {"GET", "/v2/_catalog?n=1"},
      {"GET", tags},  // kTags
      {"HEAD", tags},
      {"GET", tags + "?n=1&last=a"},
      {"GET", referrers},  // kReferrers
      {"HEAD", referrers},
      {"GET", referrers + "?artifactType=application%2Fx"},
      {"GET", by_tag},  // kManifest
      {"HEAD", by_tag},
      {"GET", by_digest},
      {"HEAD", by_digest},
      {"PUT", manifest_path(repo, "v2")},
      {"PUT", by_digest},
      {"DELETE", by_tag},
      {"DELETE", by_digest},
      {"GET", blob},  // kBlob
      {"HEAD", blob},
      {"DELETE", blob},
      {"POST", uploads_path(repo)},  // kUploads
      {"POST", "/v2/" + repo + "/blobs/uploads"},
      {"POST", uploads_path(repo) + "?digest=" + image.layer_digest},
      {"POST", uploads_path(repo) + "?mount=" + image.layer_digest + "&from=" + repo},
      {"GET", up},  // kUpload
      {"HEAD", up},
      {"PATCH", up},
      {"PUT", up + "?digest=" + image.layer_digest},
      {"DELETE", up},
      {"PATCH", blob},  // a method the route does not serve (405 once authenticated)
      {"OPTIONS", "/v2/"},
      {"GET", "/v2/nothing/here"},  // kNotFound
      {"GET", "/"},
  };
}

// 401 with the challenge, never 429: with the default figures a client walking every route with
// one wrong password is told "unauthorized" each time (issue 9: it got 429 on 9 of 14 routes).
void expect_refused(const HttpResponse& r, const Call& call) {
  SCOPED_TRACE(call.method + " " + call.target);
  ASSERT_EQ(r.status, 401u) << r.body;
  EXPECT_TRUE(HeaderIs(r, "WWW-Authenticate", "Basic realm=\"Onsen Registry\""));
  EXPECT_TRUE(HasApiVersionHeader(r));
  if (call.method == "HEAD") {
    EXPECT_TRUE(r.body.empty());
  } else {
    EXPECT_TRUE(IsOciError(r, 401, "UNAUTHORIZED"));
    // Nothing about the registry's content: no repository name, no digest.
    EXPECT_EQ(r.body.find("e2e"), std::string::npos);
    EXPECT_EQ(r.body.find("sha256:"), std::string::npos);
  }
}

TEST_F(AuthTest, EveryRouteRefusesAnonymousAndWrongCredentials) {
  auto good = authed();
  const std::string repo = "e2e/secret";
  Image image = push_image(*good, repo, "v1", 7);
  auto started = start_upload(*good, repo);
  ASSERT_EQ(started.status, 202u);
  std::string upload = started.header_or_empty("Docker-Upload-UUID");

  auto anonymous = server_->client();
  for (const auto& call : every_route(repo, image, upload)) {
    expect_refused(anonymous->send(make_request(call.method, call.target)), call);
  }
  auto wrong = server_->client();
  wrong->set_default_header("Authorization", basic("alice", "not-the-password"));
  for (const auto& call : every_route(repo, image, upload)) {
    expect_refused(wrong->send(make_request(call.method, call.target)), call);
  }
  auto stranger = server_->client();
  stranger->set_default_header("Authorization", basic("mallory", "wonderland"));
  for (const auto& call : every_route(repo, image, upload)) {
    expect_refused(stranger->send(make_request(call.method, call.target)), call);
  }
  // Nothing the refused requests asked for happened.
  EXPECT_EQ(get_manifest(*good, repo, "v1").status, 200u);
  EXPECT_EQ(good->head(blob_path(repo, image.layer_digest)).status, 200u);
}

TEST_F(AuthTest, GoodCredentialsPushAndPull) {
  auto c = authed();
  Image image = push_image(*c, "e2e/app", "v1", 3);
  auto got = get_manifest(*c, "e2e/app", "v1");
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(got.body, image.manifest);
  auto catalog = c->get("/v2/_catalog");
  ASSERT_EQ(catalog.status, 200u);
  EXPECT_NE(catalog.body.find("e2e/app"), std::string::npos);
  EXPECT_EQ(c->get(blob_path("e2e/app", image.layer_digest)).body, image.layer);
}

// The storage usage endpoint (an admin one, beside /v2/) is behind the same Authorizer.
TEST_F(AuthTest, AdminUsageNeedsAValidUser) {
  auto c = server_->client();
  auto r = c->get("/admin/usage");
  EXPECT_TRUE(IsOciError(r, 401, "UNAUTHORIZED")) << r.describe();
  EXPECT_TRUE(HeaderIs(r, "WWW-Authenticate", "Basic realm=\"Onsen Registry\""));
  r = c->get("/admin/usage/some/repo", {{"Authorization", basic("alice", "not-the-password")}});
  EXPECT_TRUE(IsOciError(r, 401, "UNAUTHORIZED")) << r.describe();
  r = c->get("/admin/usage", {{"Authorization", basic("alice", "wonderland")}});
  EXPECT_EQ(r.status, 200u) << r.describe();
  EXPECT_TRUE(parse_json(r.body).contains("total")) << r.body;
  r = c->get("/admin/usage/no/such", {{"Authorization", basic("alice", "wonderland")}});
  EXPECT_TRUE(IsOciError(r, 404, "NAME_UNKNOWN")) << r.describe();
}

TEST_F(AuthTest, GarbageAuthorizationHeadersAre401) {
  auto c = server_->client();
  for (const std::string& header : std::vector<std::string>{
           "Basic", "Basic ", "Basic !!!!", "Bearer abc", "basic", "Digest username=\"alice\"",
           "Basic " + base64("nocolon"), "Basic " + base64(":wonderland"),
           "Basic " + base64("alice:"), "Basic " + std::string(10000, 'A')}) {
    auto r = c->get("/v2/", {{"Authorization", header}});
    EXPECT_EQ(r.status, 401u) << header.substr(0, 40);
  }
  // Control bytes in a header are not HTTP at all: the transport refuses the request.
  auto control = server_->client()->get("/v2/", {{"Authorization", "Basic \x01\x02"}});
  EXPECT_TRUE(control.status == 400u || control.status == 401u) << control.status;
  // And the server still serves.
  EXPECT_EQ(authed()->get("/v2/").status, 200u);
}

// docker, ctr and podman fire several requests at once: ten wrong passwords in parallel from one
// address (all different, so each is verified and counted), then the right one, are ten 401s and a
// 200; another user behind the same address is unaffected.
TEST_F(AuthTest, ParallelWrongPasswordsThenTheRightOneSucceeds) {
  std::vector<unsigned> statuses(10);
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&, i] { statuses[i] = status_as("alice", "typo-" + std::to_string(i)); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(statuses[i], 401u) << i;
  // The same stale password, repeated as a misconfigured client does, changes nothing either.
  for (int i = 0; i < 40; ++i) ASSERT_EQ(status_as("alice", "typo-0"), 401u) << i;
  EXPECT_EQ(status_as("alice", "wonderland"), 200u);
  EXPECT_EQ(status_as("carol", "cheshire"), 200u);
}

TEST_F(AuthTest, ThrottledLoginGets429WithRetryAfterAndAMessage) {
  start_server("{failures: 3, window: 1m}");
  auto good = authed();
  ASSERT_EQ(good->get("/v2/").status, 200u);  // verified once: now cached
  for (int i = 0; i < 3; ++i) EXPECT_EQ(status_as("alice", "guess" + std::to_string(i)), 401u);
  expect_throttled(guess_until_throttled("alice"),
                   "too many failed logins for this user from this address");
  EXPECT_TRUE(
      server_->client()->head("/v2/", {{"Authorization", basic("alice", "g")}}).body.empty());
  // Same address (127.0.0.1): already-verified credentials and another user are still served.
  EXPECT_EQ(good->get("/v2/_catalog").status, 200u);
  EXPECT_EQ(status_as("carol", "cheshire"), 200u);
  // And alice herself once Retry-After has passed.
  EXPECT_EQ(status_after_retry("alice", "wonderland"), 200u);
}

TEST_F(AuthTest, DistinctUserNamesFromOneAddressHitThePerAddressCap) {
  start_server("{addressfailures: 4}");
  auto good = authed();
  ASSERT_EQ(good->get("/v2/").status, 200u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(status_as("random" + std::to_string(i), "x"), 401u);
  expect_throttled(guess_until_throttled("random4"), "too many failed logins from this address");
  EXPECT_EQ(good->get("/v2/").status, 200u);  // logged-in clients are still served
}

TEST_F(AuthTest, ThrottlingCanBeTurnedOff) {
  start_server("{failures: 0}");
  for (int i = 0; i < 40; ++i) ASSERT_EQ(status_as("alice", "guess" + std::to_string(i)), 401u);
  EXPECT_EQ(status_as("alice", "wonderland"), 200u);
}

TEST_F(AuthTest, HtpasswdChangesApplyWithoutRestart) {
  auto bob = server_->client();
  bob->set_default_header("Authorization", basic("bob", "builder"));
  EXPECT_EQ(bob->get("/v2/").status, 401u);
  std::this_thread::sleep_for(1100ms);  // a different mtime, past the reload interval
  std::ofstream(htpasswd_, std::ios::app) << htpasswd_line("bob", "builder");
  bool accepted = false;
  for (int i = 0; i < 40 && !accepted; ++i) {
    std::this_thread::sleep_for(100ms);
    accepted = bob->get("/v2/").status == 200;
  }
  EXPECT_TRUE(accepted);
}

}  // namespace
}  // namespace onsen::e2e
