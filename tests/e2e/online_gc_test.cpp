// Garbage collection inside the running server (storage.gc, /admin/gc, DELETE
// /admin/repositories/<name>; cli/online_gc.h): the endpoints behind auth, one collection at a
// time, a dry run that deletes nothing, a collection that frees an unreferenced blob whose re-push
// then pulls at once (distribution#3743: a cache kept the deleted blob's descriptor), the figures
// in /debug/vars, the lease in the store that keeps a second replica out, and the schedule with its
// window. On S3 too (ctest's s3.online_gc, with the read cache on, as s3.e2e).
#include "server_fixture.h"
#include "support/base64.h"
#include "support/registry_helpers.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace onsen::e2e {
namespace {

using namespace std::chrono_literals;

// GET /admin/gc's body.
json gc_status(HttpClient& c) {
  auto r = c.get("/admin/gc");
  EXPECT_EQ(r.status, 200u) << r.body;
  return parse_json(r.body);
}

// Polls GET /admin/gc until no collection runs (30 s at most); its last body.
json wait_idle(HttpClient& c) {
  json status;
  for (int i = 0; i < 300; ++i) {
    status = gc_status(c);
    if (status.value("state", "") == "idle") return status;
    std::this_thread::sleep_for(100ms);
  }
  ADD_FAILURE() << "the collection did not finish: " << status.dump();
  return status;
}

// POST /admin/gc?<query>, expecting 202; then waits for its end: the last run's record.
json collect(HttpClient& c, const std::string& query) {
  auto r = c.post("/admin/gc?" + query);
  EXPECT_EQ(r.status, 202u) << r.body;
  auto started = parse_json(r.body);
  EXPECT_EQ(started.value("state", ""), "running");
  auto status = wait_idle(c);
  EXPECT_EQ(status["last"].value("run", 0), started.value("run", -1)) << status.dump();
  return status["last"];
}

// /debug/vars' "gc" object.
json debug_gc(uint16_t debug_port) {
  HttpClient debug("127.0.0.1", debug_port);
  auto r = debug.get("/debug/vars");
  EXPECT_EQ(r.status, 200u);
  return parse_json(r.body)["gc"];
}

// A throw-away redis-server on a free loopback port, for the replicas' listing changes and lock.
class RedisServer {
 public:
  RedisServer() : port_(free_loopback_port()) {
    const std::string port = std::to_string(port_);
    const char* argv[] = {"redis-server", "--port", port.c_str(),   "--bind", "127.0.0.1",
                          "--save",       "",       "--appendonly", "no",     nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid_, "redis-server", &actions, nullptr, const_cast<char**>(argv), environ) !=
        0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    for (int i = 0; i < 100 && pid_ > 0; ++i) {  // up when it accepts a connection
      try {
        HttpClient probe("127.0.0.1", port_, 200ms);
        probe.get("/");
        break;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(50ms);
      }
    }
  }
  ~RedisServer() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  bool running() const { return pid_ > 0; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  uint16_t port_;
  pid_t pid_ = -1;
};

class OnlineGcTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> env = {}) {
    debug_port_ = free_loopback_port();
    env.push_back("REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:" + std::to_string(debug_port_));
    ServerOptions options;
    options.env = std::move(env);
    server_ = std::make_unique<OnsenServer>(options);
    ASSERT_TRUE(server_->start()) << server_->error() << server_->log_tail();
    c_ = server_->client();
  }

  std::unique_ptr<OnsenServer> server_;
  std::unique_ptr<HttpClient> c_;
  uint16_t debug_port_ = 0;
};

TEST_F(OnlineGcTest, FreesAnUnreferencedBlobWhoseRePushPullsAtOnce) {
  start();
  const std::string repo = "gc/bug3743";
  auto kept = push_image(*c_, repo, "kept", 1);
  const std::string data = random_bytes(4096, 42);
  const std::string digest = push_blob(*c_, repo, data);
  // Pulled once, so that a cache (S3's read cache) holds it.
  ASSERT_EQ(c_->get(blob_path(repo, digest)).status, 200u);
  ASSERT_EQ(c_->head(blob_path(repo, digest)).status, 200u);

  auto last = collect(*c_, "grace=0s");
  EXPECT_TRUE(last.value("completed", false)) << last.dump();
  EXPECT_FALSE(last.value("dry_run", true));
  EXPECT_EQ(last.value("blobs_deleted", 0), 1) << last.dump();
  EXPECT_EQ(last.value("manifests_deleted", 0), 0) << last.dump();
  EXPECT_EQ(last.value("bytes_freed", 0), 4096) << last.dump();

  // Gone, at once: no cache answers for it.
  EXPECT_TRUE(IsOciError(c_->get(blob_path(repo, digest)), 404, "BLOB_UNKNOWN"));
  EXPECT_EQ(c_->head(blob_path(repo, digest)).status, 404u);
  // What a tag holds is whole.
  auto manifest = get_manifest(*c_, repo, "kept");
  EXPECT_EQ(manifest.status, 200u);
  EXPECT_EQ(manifest.body, kept.manifest);
  EXPECT_EQ(c_->get(blob_path(repo, kept.layer_digest)).body, kept.layer);
  EXPECT_EQ(c_->get(blob_path(repo, kept.config_digest)).body, kept.config);

  // The re-push (a client asks first, is told it is absent, uploads) pulls at once.
  EXPECT_EQ(push_blob(*c_, repo, data), digest);
  auto again = c_->get(blob_path(repo, digest));
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.body, data);
  EXPECT_EQ(c_->head(blob_path(repo, digest)).status, 200u);

  auto figures = debug_gc(debug_port_);
  EXPECT_EQ(figures.value("state", ""), "idle");
  EXPECT_EQ(figures.value("runs", 0), 1);
  EXPECT_EQ(figures.value("blobs_deleted", 0), 1);
  EXPECT_EQ(figures.value("bytes_freed", 0), 4096);
  EXPECT_GT(figures.value("last_duration_s", -1.0), 0.0);
  EXPECT_NE(server_->log_tail().find("garbage collection 1 finished"), std::string::npos);
}

// Two replicas with Redis (whose listing changes let the read cache keep entries for a minute
// instead of a second): a blob both have served, collected by one, is gone from the other at
// once, and its re-push through one pulls at once from the other.
TEST_F(OnlineGcTest, ReplicasHearTheCollectionOverRedis) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << "redis-server did not start";
  start({"REGISTRY_REDIS_ADDR=" + redis.addr()});
  ServerOptions options;
  options.storage_dir = server_->dir() + "/storage";
  options.env = {"REGISTRY_REDIS_ADDR=" + redis.addr()};
  OnsenServer replica(options);
  ASSERT_TRUE(replica.start()) << replica.error() << replica.log_tail();
  auto rc = replica.client();
  const std::string repo = "gc/replicated";
  const std::string data = random_bytes(5000, 43);
  const std::string digest = push_blob(*c_, repo, data);
  for (HttpClient* c : {c_.get(), rc.get()}) {
    ASSERT_EQ(c->get(blob_path(repo, digest)).status, 200u);
    ASSERT_EQ(c->head(blob_path(repo, digest)).status, 200u);
  }
  EXPECT_EQ(collect(*c_, "grace=0s").value("blobs_deleted", 0), 1);
  for (HttpClient* c : {c_.get(), rc.get()}) {
    EXPECT_EQ(c->head(blob_path(repo, digest)).status, 404u);
    EXPECT_TRUE(IsOciError(c->get(blob_path(repo, digest)), 404, "BLOB_UNKNOWN"));
  }
  EXPECT_EQ(push_blob(*c_, repo, data), digest);
  for (HttpClient* c : {c_.get(), rc.get()}) {
    EXPECT_EQ(c->head(blob_path(repo, digest)).status, 200u);
    EXPECT_EQ(c->get(blob_path(repo, digest)).body, data);
  }
}

TEST_F(OnlineGcTest, GraceKeepsWhatIsYoung) {
  start();
  const std::string repo = "gc/young";
  const std::string digest = push_blob(*c_, repo, random_bytes(1000, 7));
  auto last = collect(*c_, "");  // storage.gc.grace: 1h by default
  EXPECT_TRUE(last.value("completed", false)) << last.dump();
  EXPECT_EQ(last.value("grace_s", 0), 3600);
  EXPECT_EQ(last.value("blobs_deleted", -1), 0) << last.dump();
  EXPECT_EQ(c_->get(blob_path(repo, digest)).status, 200u);
}

TEST_F(OnlineGcTest, DryRunDeletesNothing) {
  start({"REGISTRY_STORAGE_GC_GRACE=0s"});
  const std::string repo = "gc/dry";
  const std::string digest = push_blob(*c_, repo, random_bytes(2000, 8));
  auto last = collect(*c_, "dryrun=true");
  EXPECT_TRUE(last.value("dry_run", false));
  EXPECT_EQ(last.value("grace_s", -1), 0);
  // Counted as eligible, not deleted.
  EXPECT_EQ(last.value("blobs_deleted", 0), 1) << last.dump();
  EXPECT_EQ(c_->get(blob_path(repo, digest)).status, 200u);
  auto figures = debug_gc(debug_port_);
  EXPECT_EQ(figures.value("runs", 0), 1);
  EXPECT_EQ(figures.value("blobs_deleted", -1), 0);  // dry runs free nothing
}

TEST_F(OnlineGcTest, BadParametersAreRefused) {
  start();
  EXPECT_TRUE(IsOciError(c_->post("/admin/gc?dryrun=maybe"), 400, "UNSUPPORTED"));
  EXPECT_TRUE(IsOciError(c_->post("/admin/gc?grace=soon"), 400, "UNSUPPORTED"));
  EXPECT_TRUE(IsOciError(c_->put("/admin/gc"), 405, "UNSUPPORTED"));
  EXPECT_TRUE(IsOciError(c_->get("/admin/nothing"), 404, "NAME_UNKNOWN"));
  EXPECT_TRUE(IsOciError(c_->del("/admin/repositories/Bad..Name"), 400, "NAME_INVALID"));
  EXPECT_EQ(gc_status(*c_).value("runs", -1), 0);
}

// While a collection is taking the lease (the store's: written, then read back a second later)
// it is running: a second request, here or on a replica sharing the store, is refused.
TEST_F(OnlineGcTest, OneCollectionAtATime) {
  start();
  auto other = server_->client();
  std::thread first([&] { EXPECT_EQ(other->post("/admin/gc").status, 202u); });
  std::this_thread::sleep_for(300ms);
  auto second = c_->post("/admin/gc");
  EXPECT_TRUE(IsOciError(second, 409, "DENIED")) << second.body;
  EXPECT_NE(second.body.find("already running on this replica"), std::string::npos);
  first.join();
  wait_idle(*c_);

  // A second replica on the same store: refused while the first holds the lease.
  ServerOptions options;
  options.storage_dir = server_->dir() + "/storage";
  OnsenServer replica(options);
  ASSERT_TRUE(replica.start()) << replica.error();
  auto rc = replica.client();
  std::thread again([&] { EXPECT_EQ(other->post("/admin/gc").status, 202u); });
  std::this_thread::sleep_for(300ms);
  auto refused = rc->post("/admin/gc");
  EXPECT_TRUE(IsOciError(refused, 409, "DENIED")) << refused.body;
  EXPECT_NE(refused.body.find("already running on another replica"), std::string::npos)
      << refused.body;
  again.join();
  wait_idle(*c_);
  // Released at the end: the replica collects now.
  EXPECT_EQ(collect(*rc, "").value("completed", false), true);
}

TEST_F(OnlineGcTest, ALeaseHeldElsewhereKeepsThisReplicaOut) {
  if (std::getenv("ONSEN_E2E_STORAGE") != nullptr) GTEST_SKIP() << "writes the lease file itself";
  start();
  const std::string lease = server_->dir() + "/storage/docker/registry/v2/onsen/gc-lock";
  std::filesystem::create_directories(std::filesystem::path(lease).parent_path());
  auto in = [](std::chrono::seconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                              (std::chrono::system_clock::now() + d).time_since_epoch())
                              .count());
  };
  std::ofstream(lease) << "elsewhere:1:abc\n" << in(60s) << "\n";
  auto refused = c_->post("/admin/gc");
  EXPECT_TRUE(IsOciError(refused, 409, "DENIED")) << refused.body;
  EXPECT_NE(refused.body.find("(elsewhere:1:abc)"), std::string::npos) << refused.body;
  EXPECT_EQ(gc_status(*c_).value("runs", -1), 0);
  // An expired lease (its holder died) is taken over.
  std::ofstream(lease, std::ios::trunc) << "elsewhere:1:abc\n" << in(-1s) << "\n";
  EXPECT_TRUE(collect(*c_, "").value("completed", false));
  EXPECT_FALSE(std::filesystem::exists(lease));  // released
}

TEST_F(OnlineGcTest, AdminNeedsAuthenticationWhenHtpasswdIsOn) {
  TempDir dir;
  const std::string htpasswd = dir.path("htpasswd");
  std::ofstream(htpasswd) << htpasswd_line("admin", "secret");
  ServerOptions options;
  options.htpasswd_path = htpasswd;
  OnsenServer server(options);
  ASSERT_TRUE(server.start()) << server.error() << server.log_tail();
  auto c = server.client();
  for (auto r : {c->get("/admin/gc"), c->post("/admin/gc"), c->del("/admin/repositories/a/b"),
                 c->get("/admin/gc", {{"Authorization", basic("admin", "wrong")}})}) {
    EXPECT_TRUE(IsOciError(r, 401, "UNAUTHORIZED")) << r.body;
    EXPECT_EQ(r.header_or_empty("WWW-Authenticate"), "Basic realm=\"Onsen Registry\"");
  }
  c->set_default_header("Authorization", basic("admin", "secret"));
  EXPECT_EQ(gc_status(*c).value("runs", -1), 0);
  EXPECT_TRUE(collect(*c, "").value("completed", false));
}

TEST_F(OnlineGcTest, DeletesARepository) {
  start();
  auto image = push_image(*c_, "gc/doomed/app", "v1", 3);
  auto survivor = push_image(*c_, "gc/survivor", "v1", 4);
  EXPECT_EQ(c_->del("/admin/repositories/gc/doomed/app").status, 202u);
  EXPECT_TRUE(IsOciError(get_manifest(*c_, "gc/doomed/app", "v1"), 404, ""));
  EXPECT_TRUE(IsOciError(c_->get("/v2/gc/doomed/app/tags/list"), 404, "NAME_UNKNOWN"));
  EXPECT_TRUE(IsOciError(c_->del("/admin/repositories/gc/doomed/app"), 404, "NAME_UNKNOWN"));
  auto catalog = parse_json(c_->get("/v2/_catalog").body);
  EXPECT_EQ(catalog["repositories"], json::array({"gc/survivor"}));
  // Its blobs go at the next collection; the other repository's stay.
  auto last = collect(*c_, "grace=0s");
  EXPECT_EQ(last.value("blobs_deleted", 0), 3) << last.dump();
  EXPECT_EQ(get_manifest(*c_, "gc/survivor", "v1").body, survivor.manifest);
  EXPECT_EQ(c_->get(blob_path("gc/survivor", survivor.layer_digest)).body, survivor.layer);
  (void)image;
}

TEST_F(OnlineGcTest, RepositoryDeleteFollowsStorageDeleteEnabled) {
  ServerOptions options;
  options.delete_enabled = false;
  OnsenServer server(options);
  ASSERT_TRUE(server.start()) << server.error();
  auto c = server.client();
  push_image(*c, "gc/kept", "v1", 5);
  EXPECT_TRUE(IsOciError(c->del("/admin/repositories/gc/kept"), 405, "UNSUPPORTED"));
  EXPECT_EQ(get_manifest(*c, "gc/kept", "v1").status, 200u);
}

// "HH:MM-HH:MM" of local time, `from` and `to` minutes away from now.
std::string window_from_now(int from, int to) {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  const int minute = local.tm_hour * 60 + local.tm_min;
  auto clock = [&](int delta) {
    int m = ((minute + delta) % 1440 + 1440) % 1440;
    char text[6];
    std::snprintf(text, sizeof text, "%02d:%02d", m / 60, m % 60);
    return std::string(text);
  };
  return clock(from) + "-" + clock(to);
}

TEST_F(OnlineGcTest, ScheduledEveryIntervalInsideTheWindow) {
  start({"REGISTRY_STORAGE_GC_INTERVAL=1s", "REGISTRY_STORAGE_GC_GRACE=0s",
         "REGISTRY_STORAGE_GC_WINDOW=" + window_from_now(-60, 60)});
  const std::string digest = push_blob(*c_, "gc/scheduled", random_bytes(3000, 9));
  json figures;
  for (int i = 0; i < 100; ++i) {
    figures = debug_gc(debug_port_);
    if (figures.value("runs", 0) >= 3 && figures.value("state", "") == "idle") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GE(figures.value("runs", 0), 3) << figures.dump();
  EXPECT_EQ(figures.value("blobs_deleted", 0), 1) << figures.dump();
  EXPECT_EQ(c_->head(blob_path("gc/scheduled", digest)).status, 404u);
  EXPECT_NE(server_->log_tail().find("(schedule, grace 0s)"), std::string::npos);
}

TEST_F(OnlineGcTest, NoScheduledRunOutsideTheWindow) {
  start({"REGISTRY_STORAGE_GC_INTERVAL=1s", "REGISTRY_STORAGE_GC_GRACE=0s",
         "REGISTRY_STORAGE_GC_WINDOW=" + window_from_now(120, 180)});
  const std::string digest = push_blob(*c_, "gc/closed", random_bytes(3000, 10));
  std::this_thread::sleep_for(3500ms);
  EXPECT_EQ(debug_gc(debug_port_).value("runs", -1), 0);
  EXPECT_EQ(c_->head(blob_path("gc/closed", digest)).status, 200u);
  // On demand, the window does not apply.
  EXPECT_EQ(collect(*c_, "").value("blobs_deleted", 0), 1);
}

}  // namespace
}  // namespace onsen::e2e
