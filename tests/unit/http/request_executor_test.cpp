// RequestExecutor: a session's coroutine sees its own request id after every resumption (a timer,
// a blocking-pool job), though other sessions' coroutines run on the same thread in between; the
// pool's job sees it too; outside the coroutine the thread has none. The io_context keeps running
// while a job is out (the executor tracks work as the strand does).
#include "http/request_executor.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/request_context.h"
#include "http/blocking_pool.h"

namespace onsen::http::detail {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

TEST(RequestExecutorTest, EachCoroutineSeesItsOwnRequestIdAcrossResumptions) {
  net::io_context io;
  BlockingPool pool(2);
  std::vector<std::string> problems;
  int finished = 0;
  for (int s = 0; s < 3; ++s) {
    auto strand = net::make_strand(io);
    auto context = std::make_shared<SessionLogContext>(strand);
    net::co_spawn(
        RequestExecutor(strand.get_inner_executor(), context),
        [&, context, s]() -> net::awaitable<void> {
          auto check = [&](const std::string& where) {
            if (base::current_request_id() != context->request_id) {
              problems.push_back(where + ": saw '" + std::string(base::current_request_id()) +
                                 "', not '" + context->request_id + "'");
            }
          };
          net::steady_timer timer(co_await net::this_coro::executor);
          for (int request = 0; request < 5; ++request) {
            context->request_id =
                "session" + std::to_string(s) + "-request" + std::to_string(request);
            check("start");
            timer.expires_after(1ms);
            co_await timer.async_wait(net::use_awaitable);
            check("after a timer");
            std::string in_job =
                co_await pool.run([] { return std::string(base::current_request_id()); });
            if (in_job != context->request_id) problems.push_back("in a job: saw " + in_job);
            check("after a job");
          }
          ++finished;
        },
        net::detached);
  }
  io.run();  // returns once all finished: jobs out kept it running
  pool.wait();
  EXPECT_EQ(finished, 3);
  for (const auto& p : problems) ADD_FAILURE() << p;
  EXPECT_TRUE(base::current_request_id().empty());
}

}  // namespace
}  // namespace onsen::http::detail
