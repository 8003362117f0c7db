// BlockingPool: the work runs on a pool thread, never the I/O thread; the coroutine resumes on its
// own executor; exceptions reach the caller; at most `threads` jobs run at once; a pool with a
// niceness runs every job that many nice levels below the process.
#include "http/blocking_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>

namespace onsen::http {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

TEST(BlockingPoolTest, RunsOffTheIoThreadAndResumesOnTheCallersStrand) {
  BlockingPool pool(2);
  net::io_context io;
  auto strand = net::make_strand(io);
  std::thread::id io_thread, work_thread, resumed_thread;
  bool resumed_on_strand = false;
  std::string result;
  net::co_spawn(
      strand,
      [&]() -> net::awaitable<void> {
        io_thread = std::this_thread::get_id();
        result = co_await pool.run([&] {
          work_thread = std::this_thread::get_id();
          return std::string("done");
        });
        resumed_thread = std::this_thread::get_id();
        resumed_on_strand = strand.running_in_this_thread();
      },
      net::detached);
  io.run();     // returns only once the coroutine finished: the job kept io busy meanwhile
  pool.wait();  // before io is destroyed (blocking_pool.h)
  EXPECT_EQ(result, "done");
  EXPECT_NE(work_thread, io_thread);
  EXPECT_EQ(resumed_thread, io_thread);
  EXPECT_TRUE(resumed_on_strand);
}

TEST(BlockingPoolTest, ExceptionsReachTheCaller) {
  BlockingPool pool(1);
  net::io_context io;
  std::string caught;
  bool void_ran = false;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        try {
          co_await pool.run([]() -> int { throw std::runtime_error("disk on fire"); });
        } catch (const std::runtime_error& e) {
          caught = e.what();
        }
        co_await pool.run([&] { void_ran = true; });
      },
      net::detached);
  io.run();
  pool.wait();  // before io is destroyed (blocking_pool.h)
  EXPECT_EQ(caught, "disk on fire");
  EXPECT_TRUE(void_ran);
}

TEST(BlockingPoolTest, AtMostThreadsJobsRunAtOnce) {
  constexpr int kThreads = 2;
  constexpr int kJobs = 8;
  BlockingPool pool(kThreads);
  net::io_context io;
  std::atomic<int> running{0}, most{0}, finished{0};
  for (int i = 0; i < kJobs; ++i) {
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          co_await pool.run([&] {
            int now = ++running;
            for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {
            }
            // Until the pool is seen full (so the jobs overlap however slow the machine), then a
            // little longer, for any job beyond the bound to show.
            auto deadline = std::chrono::steady_clock::now() + 5s;
            while (most < kThreads && std::chrono::steady_clock::now() < deadline) {
              std::this_thread::sleep_for(1ms);
            }
            std::this_thread::sleep_for(10ms);
            --running;
          });
          ++finished;
        },
        net::detached);
  }
  io.run();     // one I/O thread starts all the jobs: it is not blocked while they run
  pool.wait();  // before io is destroyed (blocking_pool.h)
  EXPECT_EQ(finished, kJobs);
  EXPECT_EQ(most, kThreads);
}

int nice_of_this_thread() {
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
}

// Jobs that wait for each other run on different threads: every thread of the pool is seen.
std::vector<int> nice_of_every_thread(BlockingPool& pool, int threads) {
  net::io_context io;
  std::latch all_running(threads);
  std::vector<int> seen;
  for (int i = 0; i < threads; ++i) {
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          seen.push_back(co_await pool.run([&] {
            all_running.arrive_and_wait();
            return nice_of_this_thread();
          }));
        },
        net::detached);
  }
  io.run();
  pool.wait();  // before io is destroyed (blocking_pool.h)
  return seen;
}

TEST(BlockingPoolTest, NicenessLowersThePriorityOfEveryThread) {
  constexpr int kThreads = 3;
  const int process_nice = nice_of_this_thread();
  BlockingPool background(kThreads, 5);
  BlockingPool normal(kThreads);
  EXPECT_EQ(nice_of_every_thread(background, kThreads),
            std::vector<int>(kThreads, std::min(process_nice + 5, 19)));
  EXPECT_EQ(nice_of_every_thread(normal, kThreads), std::vector<int>(kThreads, process_nice));
  EXPECT_EQ(nice_of_this_thread(), process_nice);  // the caller's thread keeps its own
}

}  // namespace
}  // namespace onsen::http
