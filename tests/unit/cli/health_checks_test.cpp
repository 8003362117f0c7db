// HealthChecks' threshold logic with a scripted probe (each probe returns what the test feeds it),
// and the probes of the configured checks against real files and sockets.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "cli/health_checks.h"
#include "storage/filesystem.h"
#include "support/temp_dir.h"

namespace onsen::cli {
namespace {

using namespace std::chrono_literals;
using onsen::test::TempDir;

// A probe that returns, one call at a time, what step() feeds it.
class ScriptedProbe {
 public:
  std::optional<std::string> operator()() {
    std::unique_lock lock(mutex_);
    ++calls_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !results_.empty() || done_; });
    if (results_.empty()) return std::nullopt;
    auto result = results_.front();
    results_.pop_front();
    return result;
  }
  // Hands one result to the probe under way (waiting for it to begin).
  void feed(std::optional<std::string> result) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return calls_ > fed_; });
    ++fed_;
    results_.push_back(std::move(result));
    cv_.notify_all();
  }
  // feed(), then waits until the check has recorded the result (its next probe began).
  void step(std::optional<std::string> result) {
    feed(std::move(result));
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return calls_ > fed_; });
  }
  // Lets a probe under way return, so that the checks can stop.
  void finish() {
    std::lock_guard lock(mutex_);
    done_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::optional<std::string>> results_;
  int calls_ = 0;  // probes begun
  int fed_ = 0;    // results handed over
  bool done_ = false;
};

TEST(HealthChecks, FailsAfterThresholdFailuresInARowAndPassesAtTheNextSuccess) {
  ScriptedProbe script;
  {
    HealthChecks checks({{"storagedriver_x", [&] { return script(); }, 1ms, 3}});
    EXPECT_FALSE(checks.passed_once("storagedriver_x"));
    script.step("down");
    script.step("down");
    EXPECT_TRUE(checks.failing().empty());  // 2 of 3
    EXPECT_FALSE(checks.any_failing());
    script.step(std::nullopt);  // a success resets the count
    EXPECT_TRUE(checks.passed_once("storagedriver_x"));
    script.step("down");
    script.step("down");
    EXPECT_FALSE(checks.any_failing());
    script.step("still down");
    EXPECT_TRUE(checks.any_failing());
    EXPECT_EQ(checks.failing(),
              (std::map<std::string, std::string>{{"storagedriver_x", "still down"}}));
    script.step("other error");  // the last probe's error is reported
    EXPECT_EQ(checks.failing().at("storagedriver_x"), "other error");
    script.step(std::nullopt);
    EXPECT_TRUE(checks.failing().empty());
    EXPECT_FALSE(checks.any_failing());
    script.finish();
  }
}

TEST(HealthChecks, ThresholdOneFailsAtOnceAndOthersAreIndependent) {
  ScriptedProbe a, b;
  {
    HealthChecks checks({{"a", [&] { return a(); }, 1ms, 1}, {"b", [&] { return b(); }, 1ms, 1}});
    EXPECT_TRUE(checks.passed_once("no such check"));
    a.step("file exists");
    b.step(std::nullopt);
    EXPECT_EQ(checks.failing(), (std::map<std::string, std::string>{{"a", "file exists"}}));
    b.step("refused");
    EXPECT_EQ(checks.failing().size(), 2u);
    a.step(std::nullopt);
    EXPECT_EQ(checks.failing(), (std::map<std::string, std::string>{{"b", "refused"}}));
    a.finish();
    b.finish();
  }
}

// The first probe runs at once, not one interval after start (readiness waits for it).
TEST(HealthChecks, FirstProbeRunsAtOnce) {
  ScriptedProbe script;
  {
    const auto start = std::chrono::steady_clock::now();
    HealthChecks checks({{"s", [&] { return script(); }, 1h, 1}});
    script.feed(std::nullopt);
    while (!checks.passed_once("s") && std::chrono::steady_clock::now() - start < 10s) {
      std::this_thread::sleep_for(1ms);
    }
    EXPECT_TRUE(checks.passed_once("s"));
    script.finish();
  }
}

// The probe a configured check runs, found by name.
std::optional<std::string> probe_of(const std::vector<HealthCheck>& checks,
                                    const std::string& name) {
  for (const auto& c : checks) {
    if (c.name == name) return c.probe();
  }
  ADD_FAILURE() << "no check " << name;
  return std::nullopt;
}

TEST(ConfiguredChecks, NamesDefaultsAndProbes) {
  TempDir dir;
  config::HealthConfig health;
  health.storage_enabled = true;
  health.storage_threshold = 3;
  health.files.emplace_back().target = dir.path("drain");
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor listening(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::string open_addr = "127.0.0.1:" + std::to_string(listening.local_endpoint().port());
  health.tcp.emplace_back().target = open_addr;
  health.tcp.back().timeout = 2s;
  auto storage = std::make_shared<storage::FilesystemDriver>(dir.path("root"));
  std::vector<HealthCheck> checks = configured_checks(health, "filesystem", storage);
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_EQ(checks[0].name, "storagedriver_filesystem");
  EXPECT_EQ(checks[0].interval, 10s);  // registry:2's default
  EXPECT_EQ(checks[0].threshold, 3u);
  EXPECT_EQ(checks[1].threshold, 1u);  // none configured: one failure

  // A missing root is an answer (a fresh store has none yet), as in registry:2.
  EXPECT_EQ(probe_of(checks, "storagedriver_filesystem"), std::nullopt);
  // A root that cannot be looked at is not.
  std::filesystem::create_directory_symlink(dir.path("root"), dir.path("root"));  // a loop
  EXPECT_NE(probe_of(checks, "storagedriver_filesystem"), std::nullopt);

  EXPECT_EQ(probe_of(checks, dir.path("drain")), std::nullopt);
  dir.write("drain", "");
  EXPECT_EQ(probe_of(checks, dir.path("drain")), "file exists");

  EXPECT_EQ(probe_of(checks, open_addr), std::nullopt);
  listening.close();
  EXPECT_EQ(probe_of(checks, open_addr), "connection to " + open_addr + " failed");
}

}  // namespace
}  // namespace onsen::cli
