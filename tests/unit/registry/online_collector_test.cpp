// registry::OnlineCollector with the store lease on the in-memory driver, short lease timings and a
// collection that runs until told to stop: one run at a time, the lease held while it runs and
// renewed, a lost lease or the deadline stopping it between steps, the destructor stopping it,
// the figures and the log lines.
#include <gtest/gtest.h>

#include "registry/online_collector.h"
#include "registry/store_lease.h"
#include "storage/inmemory.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace onsen::registry {
namespace {

using namespace std::chrono_literals;

class OnlineCollectorTest : public ::testing::Test {
 protected:
  // A collection of `steps` steps of 10 ms each (0: until should_stop), deleting one blob each.
  OnlineCollector::Collect steps(int n) {
    return [this, n](const CollectionRequest&, const std::function<bool()>& should_stop) {
      CollectionOutcome outcome;
      for (int i = 0; n == 0 || i < n; ++i) {
        if (should_stop()) return outcome;
        std::this_thread::sleep_for(10ms);
        ++outcome.blobs_deleted;
        outcome.bytes_freed += 100;
        ++steps_done_;
      }
      outcome.completed = true;
      return outcome;
    };
  }
  OnlineCollector::Log log() {
    return [this](bool warning, const std::string& line) {
      std::lock_guard guard(mutex_);
      lines_.push_back((warning ? "W " : "I ") + line);
    };
  }
  std::string lines() {
    std::lock_guard guard(mutex_);
    std::string all;
    for (auto& l : lines_) all += l + "\n";
    return all;
  }

  std::shared_ptr<storage::Driver> store_ = std::make_shared<storage::InMemoryDriver>();
  StoreLease lease_{store_, "me", 0ms};
  StoreLease other_{store_, "other", 0ms};
  const LeaseTiming fast_{300ms, 50ms};
  std::atomic<int> steps_done_{0};
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

TEST_F(OnlineCollectorTest, RunsOneAtATimeUnderTheLeaseAndKeepsTheFigures) {
  OnlineCollector collector(steps(60), lease_, log(), fast_);
  auto started = collector.start({});
  ASSERT_EQ(started.result, OnlineCollector::Start::kStarted);
  EXPECT_EQ(started.run, 1u);
  EXPECT_EQ(collector.start({}).result, OnlineCollector::Start::kRunningHere);
  EXPECT_EQ(other_.holder(), "me");
  EXPECT_FALSE(other_.acquire(1s));
  auto status = collector.status();
  EXPECT_TRUE(status.running);
  ASSERT_TRUE(status.current);
  EXPECT_EQ(status.current->run, 1u);
  std::this_thread::sleep_for(450ms);  // past the lease's first expiry: renewed since
  EXPECT_EQ(other_.holder(), "me");
  collector.wait_idle();
  status = collector.status();
  EXPECT_FALSE(status.running);
  ASSERT_TRUE(status.last);
  EXPECT_TRUE(status.last->outcome.completed);
  EXPECT_EQ(status.last->outcome.blobs_deleted, 60u);
  EXPECT_EQ(status.blobs_deleted, 60u);
  EXPECT_EQ(status.bytes_freed, 6000u);
  EXPECT_GT(status.last->duration.count(), 0.55);
  EXPECT_EQ(other_.holder(), "");  // released
  EXPECT_EQ(lines().find("W "), std::string::npos) << lines();
  EXPECT_NE(lines().find("I garbage collection 1 finished"), std::string::npos) << lines();

  // Held by another replica: refused, naming it; nothing runs.
  ASSERT_TRUE(other_.acquire(10s));
  started = collector.start({});
  EXPECT_EQ(started.result, OnlineCollector::Start::kRunningElsewhere);
  EXPECT_EQ(started.holder, "other");
  EXPECT_EQ(collector.status().runs, 1u);
}

TEST_F(OnlineCollectorTest, DryRunsCountNothing) {
  OnlineCollector collector(steps(3), lease_, log(), fast_);
  CollectionRequest request;
  request.dry_run = true;
  ASSERT_EQ(collector.start(request).result, OnlineCollector::Start::kStarted);
  collector.wait_idle();
  auto status = collector.status();
  EXPECT_EQ(status.last->outcome.blobs_deleted, 3u);  // eligible
  EXPECT_EQ(status.blobs_deleted, 0u);
}

TEST_F(OnlineCollectorTest, ALostLeaseStopsTheRun) {
  OnlineCollector collector(steps(0), lease_, log(), fast_);
  ASSERT_EQ(collector.start({}).result, OnlineCollector::Start::kStarted);
  std::this_thread::sleep_for(100ms);
  // Another replica took it over (as after an expiry): the next renewal finds out.
  store_->put_content(StoreLease::key(), "other\n99999999999999\n");
  collector.wait_idle();
  auto status = collector.status();
  EXPECT_FALSE(status.last->outcome.completed);
  EXPECT_NE(lines().find("W garbage collection 1: collector lock lost"), std::string::npos)
      << lines();
  EXPECT_EQ(other_.holder(), "other");  // not released by the loser
}

TEST_F(OnlineCollectorTest, TheDeadlineStopsTheRun) {
  OnlineCollector collector(steps(0), lease_, log(), fast_);
  CollectionRequest request;
  request.deadline = std::chrono::system_clock::now() + 150ms;
  ASSERT_EQ(collector.start(request).result, OnlineCollector::Start::kStarted);
  collector.wait_idle();
  auto status = collector.status();
  EXPECT_FALSE(status.last->outcome.completed);
  EXPECT_GT(status.last->outcome.blobs_deleted, 0u);
  EXPECT_NE(lines().find("stopped early"), std::string::npos) << lines();
}

TEST_F(OnlineCollectorTest, DestructionStopsARunBetweenSteps) {
  {
    OnlineCollector collector(steps(0), lease_, log(), fast_);
    ASSERT_EQ(collector.start({}).result, OnlineCollector::Start::kStarted);
    std::this_thread::sleep_for(50ms);
  }
  const int done = steps_done_;
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(steps_done_, done);    // no step after
  EXPECT_EQ(other_.holder(), "");  // released
}

TEST_F(OnlineCollectorTest, AFailedRunIsRecordedAndReleasesTheLease) {
  OnlineCollector collector(
      [](const CollectionRequest&, const std::function<bool()>&) -> CollectionOutcome {
        throw std::runtime_error("the store went away");
      },
      lease_, log(), fast_);
  ASSERT_EQ(collector.start({}).result, OnlineCollector::Start::kStarted);
  collector.wait_idle();
  auto status = collector.status();
  EXPECT_EQ(status.last->error, "the store went away");
  EXPECT_FALSE(status.last->outcome.completed);
  EXPECT_NE(lines().find("W garbage collection 1 failed"), std::string::npos) << lines();
  EXPECT_EQ(other_.holder(), "");
}

}  // namespace
}  // namespace onsen::registry
