#include "http/blocking_pool.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <latch>
#include <memory>
#include <string>

#include "base/request_context.h"

namespace onsen::http {

namespace net = boost::asio;

namespace {

// Linux keeps a nice value per thread (PRIO_PROCESS with a thread id); a failure leaves the thread
// at the process's priority, which only costs the preference.
void lower_this_threads_priority(int niceness) {
  const id_t tid = static_cast<id_t>(::gettid());
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, tid);
  if (errno != 0) return;
  (void)::setpriority(PRIO_PROCESS, tid, std::min(current + niceness, 19));
}

}  // namespace

BlockingPool::BlockingPool(size_t threads, int niceness) : pool_(threads) {
  if (niceness <= 0) return;
  // One job per thread, each held until all have started: so every thread runs exactly one.
  auto started = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(threads));
  for (size_t i = 0; i < threads; ++i) {
    net::post(pool_, [started, niceness] {
      lower_this_threads_priority(niceness);
      started->arrive_and_wait();
    });
  }
  started->wait();
}

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
        // The job works for the caller's request: its log lines carry the request's id. The id
        // outlives the job: its request waits for it (base/request_context.h).
        const std::string* request_id = base::current_request_id_source();
        net::post(pool_, [&work, handler = std::move(handler), guard = std::move(guard),
                          request_id]() mutable {
          std::exception_ptr failure;
          try {
            base::RequestIdScope scope(request_id);
            work();
          } catch (...) {
            failure = std::current_exception();
          }
          // Everything that refers to the caller's io_context moves into the completion, so this
          // thread lets go of it as it hands the result over: once the caller has resumed, its
          // owner may stop and destroy that io_context (after wait(): see blocking_pool.h).
          auto executor = guard.get_executor();
          net::dispatch(std::move(executor), [handler = std::move(handler), failure,
                                              guard = std::move(guard)]() mutable {
            guard.reset();
            std::move(handler)(failure);
          });
        });
      },
      net::use_awaitable);
}

}  // namespace onsen::http
