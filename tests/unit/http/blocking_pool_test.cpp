// BlockingPool: the work runs on a pool thread, never the I/O thread; the coroutine resumes on its
// own executor; exceptions reach the caller; at most `threads` jobs run at once.
#include "http/blocking_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>

#include <atomic>
#include <chrono>
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
  io.run();  // returns only once the coroutine finished: the job kept io busy meanwhile
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
  io.run();  // one I/O thread starts all the jobs: it is not blocked while they run
  EXPECT_EQ(finished, kJobs);
  EXPECT_EQ(most, kThreads);
}

}  // namespace
}  // namespace onsen::http
