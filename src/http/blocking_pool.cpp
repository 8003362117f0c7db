#include "http/blocking_pool.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>

namespace onsen::http {

namespace net = boost::asio;

BlockingPool::BlockingPool(size_t threads) : pool_(threads) {}

BlockingPool::~BlockingPool() {
  pool_.stop();
  pool_.join();
}

net::awaitable<void> BlockingPool::run_function(std::function<void()> work) {
  co_await net::async_initiate<decltype(net::use_awaitable), void(std::exception_ptr)>(
      [this, &work](auto handler) {
        // The work guard keeps the caller's executor (its io_context) from running out of work
        // while the job runs; the result goes back through that executor.
        auto guard = net::make_work_guard(net::get_associated_executor(handler));
        net::post(pool_, [&work, handler = std::move(handler), guard = std::move(guard)]() mutable {
          std::exception_ptr failure;
          try {
            work();
          } catch (...) {
            failure = std::current_exception();
          }
          auto executor = guard.get_executor();
          net::dispatch(executor, [handler = std::move(handler), failure]() mutable {
            std::move(handler)(failure);
          });
        });
      },
      net::use_awaitable);
}

}  // namespace onsen::http
