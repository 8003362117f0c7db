// HTTP/1.1 transport behaviour seen by registry clients: keep-alive reuse, Expect:
// 100-continue, concurrent clients, graceful shutdown.
#include "server_fixture.h"
#include "support/registry_helpers.h"

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

namespace onsen::e2e {
namespace {

class TransportTest : public RegistryTest {};

// Runs fn(client, i) for i in [0, n) at once, on n threads with a connection each; their statuses.
std::vector<unsigned> statuses_in_parallel(uint16_t port, size_t n,
                                           const std::function<unsigned(HttpClient&, size_t)>& fn) {
  std::vector<unsigned> statuses(n);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      HttpClient client("127.0.0.1", port);
      statuses[i] = fn(client, i);
    });
  }
  for (auto& th : threads) th.join();
  return statuses;
}

TEST_F(TransportTest, KeepAliveConnectionIsReused) {
  const std::string name = repo();
  const std::string digest = push_blob(c(), name, "keep alive");
  for (int i = 0; i < 50; ++i) {
    auto r = (i % 2 == 0) ? c().get(blob_path(name, digest)) : c().head(blob_path(name, digest));
    ASSERT_EQ(r.status, 200u) << r.describe();
    auto miss = c().get(blob_path(name, sha256_digest(std::to_string(i))));
    ASSERT_EQ(miss.status, 404u) << miss.describe();
  }
  EXPECT_EQ(c().connections_opened(), 1);
}

TEST_F(TransportTest, ExpectContinueOnBlobPut) {
  const std::string name = repo();
  const std::string data = random_bytes(100000, 600);
  const std::string digest = sha256_digest(data);
  auto start = start_upload(c(), name);
  ASSERT_EQ(start.status, 202u);
  auto req = make_request(
      "PUT", add_query(relative_target(start.header_or_empty("Location")), "digest", digest),
      {{"Content-Type", "application/octet-stream"}}, data);
  req.expect_continue = true;
  auto r = c().send(req);
  ASSERT_EQ(r.status, 201u) << r.describe();
  auto g = c().get(blob_path(name, digest));
  ASSERT_EQ(g.status, 200u);
  EXPECT_TRUE(g.body == data);
}

TEST_F(TransportTest, ExpectContinueOnManifestPut) {
  const std::string name = repo();
  Image img = make_image(c(), name, 601);
  auto req = make_request("PUT", manifest_path(name, "latest"),
                          {{"Content-Type", mt::kOciManifest}}, img.manifest);
  req.expect_continue = true;
  auto r = c().send(req);
  ASSERT_EQ(r.status, 201u) << r.describe();
}

TEST_F(TransportTest, ConcurrentClientsPushAndPull) {
  constexpr int kThreads = 4;
  constexpr int kBlobs = 5;
  std::atomic<int> failures{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  const std::string name = repo();
  const uint16_t port = server()->port();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client("127.0.0.1", port);
      for (int i = 0; i < kBlobs; ++i) {
        const std::string data = random_bytes(50000 + t * 1000 + i, 700 + t * 10 + i);
        const std::string digest = sha256_digest(data);
        auto s = client.post(uploads_path(name));
        if (s.status != 202) {
          ++failures;
          errors[t] += "POST: " + s.describe();
          continue;
        }
        auto p =
            client.put(add_query(relative_target(s.header_or_empty("Location")), "digest", digest),
                       data, {{"Content-Type", "application/octet-stream"}});
        auto g = client.get(blob_path(name, digest));
        if (p.status != 201 || g.status != 200 || g.body != data) {
          ++failures;
          errors[t] += "PUT/GET: " + p.describe() + g.describe();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0) << errors[0] << errors[1] << errors[2] << errors[3];
}

TEST_F(TransportTest, ConcurrentPushesOfTheSameTag) {
  const std::string name = repo();
  std::vector<Image> images;
  for (uint32_t i = 0; i < 4; ++i) images.push_back(make_image(c(), name, 800 + i));
  auto statuses =
      statuses_in_parallel(server()->port(), images.size(), [&](HttpClient& client, size_t i) {
        return push_manifest(client, name, "race", mt::kOciManifest, images[i].manifest).status;
      });
  for (auto s : statuses) EXPECT_EQ(s, 201u);
  auto r = get_manifest(c(), name, "race");
  ASSERT_EQ(r.status, 200u) << r.describe();
  bool matches_one = false;
  for (const auto& img : images) matches_one = matches_one || r.body == img.manifest;
  EXPECT_TRUE(matches_one) << "tag points at a manifest nobody pushed";
}

TEST_F(TransportTest, ConcurrentUploadsOfTheSameBlob) {
  const std::string name = repo();
  const std::string data = random_bytes(300000, 650);
  const std::string digest = sha256_digest(data);
  auto statuses = statuses_in_parallel(server()->port(), 4, [&](HttpClient& client, size_t) {
    auto s = client.post(uploads_path(name));
    return client
        .put(add_query(relative_target(s.header_or_empty("Location")), "digest", digest), data,
             {{"Content-Type", "application/octet-stream"}})
        .status;
  });
  for (auto s : statuses) EXPECT_EQ(s, 201u);
  auto g = c().get(blob_path(name, digest));
  ASSERT_EQ(g.status, 200u) << g.describe();
  EXPECT_TRUE(g.body == data);
}

TEST_F(TransportTest, ConcurrentPatchesOfOneSessionAcceptOnlyOne) {
  const std::string name = repo();
  auto s = start_upload(c(), name);
  ASSERT_EQ(s.status, 202u);
  const std::string target = relative_target(s.header_or_empty("Location"));
  const std::string chunk = random_bytes(200000, 660);
  auto statuses = statuses_in_parallel(server()->port(), 3, [&](HttpClient& client, size_t) {
    return client
        .patch(target, chunk,
               {{"Content-Type", "application/octet-stream"},
                {"Content-Range", "0-" + std::to_string(chunk.size() - 1)}})
        .status;
  });
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 202u), 1)
      << statuses[0] << " " << statuses[1] << " " << statuses[2];
  for (auto st : statuses) EXPECT_TRUE(st == 202 || (st >= 400 && st < 500)) << st;
  auto status = c().get(target);
  ASSERT_EQ(status.status, 204u) << status.describe();
  EXPECT_TRUE(HeaderIs(status, "Range", "0-" + std::to_string(chunk.size() - 1)));
  auto put = c().put(add_query(target, "digest", sha256_digest(chunk)), "",
                     {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(put.status, 201u) << put.describe();
  auto g = c().get(blob_path(name, sha256_digest(chunk)));
  EXPECT_TRUE(g.body == chunk);
}

TEST_F(TransportTest, ExpectContinueRejectedEarlyKeepsClientWorking) {
  const std::string name = repo();
  Image img = make_image(c(), name, 670);
  auto req = make_request("PUT", manifest_path(name, "-bad"), {{"Content-Type", mt::kOciManifest}},
                          img.manifest);
  req.expect_continue = true;
  auto r = c().send(req);
  EXPECT_TRUE(IsOciError(r, 400, "TAG_INVALID"));
  auto ok = c().get("/v2/");
  EXPECT_EQ(ok.status, 200u) << ok.describe();
}

TEST_F(TransportTest, MalformedRequestDoesNotKillTheServer) {
  {
    HttpClient raw("127.0.0.1", server()->port(), std::chrono::seconds(5));
    auto r = raw.send(make_request("GET", "not-a-target"));
    if (r.status != 0) {
      EXPECT_GE(r.status, 400u) << r.describe();
    }
  }
  auto ok = c().get("/v2/");
  EXPECT_EQ(ok.status, 200u) << ok.describe();
}

class LifecycleTest : public FreshServerTest {};

TEST_F(LifecycleTest, StopsCleanlyOnSigterm) {
  const std::string name = repo();
  push_image(c(), name, "latest", 900);
  client_.reset();
  EXPECT_TRUE(own_->stop()) << "onsen had to be killed after SIGTERM";
  EXPECT_TRUE(WIFEXITED(own_->exit_status()) || WIFSIGNALED(own_->exit_status()));
}

TEST_F(LifecycleTest, DataSurvivesARestart) {
  // Same storage directory, new process: content is still there.
  const std::string name = repo();
  Image img = push_image(c(), name, "persist", 901);
  client_.reset();
  ASSERT_TRUE(own_->stop());
  ASSERT_TRUE(own_->restart()) << own_->error() << "\n" << own_->log_tail();
  client_ = own_->client();
  auto r = get_manifest(c(), name, "persist");
  ASSERT_EQ(r.status, 200u) << r.describe();
  EXPECT_EQ(r.body, img.manifest);
  auto b = c().get(blob_path(name, img.layer_digest));
  ASSERT_EQ(b.status, 200u);
  EXPECT_TRUE(b.body == img.layer);
}

}  // namespace
}  // namespace onsen::e2e
