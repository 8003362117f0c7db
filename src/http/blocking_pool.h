// A bounded pool of threads for work that may block (storage I/O, fsync, bcrypt), so it never
// runs on an I/O thread: a coroutine posts the work and is resumed on its own executor (its
// session's strand) when the work is done; an exception thrown by the work is rethrown there.
//
// At most `threads` jobs run at once; further ones queue. A finished job resumes its caller through
// the caller's executor, so the io_context behind it must still exist then: its owner calls
// wait() after the io_context stopped running and before destroying it (a forced stop leaves jobs
// running). Destroying the pool waits for the jobs that run and drops the queued ones (their
// coroutines are destroyed without resuming).
//
// A pool may run at a lower CPU priority than the rest of the process (`niceness`, Linux nice
// levels added to each of its threads'): for long, CPU-heavy work (upload data: copying into the
// page cache and hashing) that must not delay the I/O threads when the CPU is busy. Under
// contention a thread 10 levels lower gets about a tenth of the CPU time of one at the process's
// level, and a woken I/O thread preempts it at once; on an idle CPU it runs as fast as any other.
//
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

namespace onsen::http {

class BlockingPool {
 public:
  // niceness: 0 (the process's priority) to 19; a process already at nice n runs the pool at
  // min(n + niceness, 19).
  explicit BlockingPool(size_t threads, int niceness = 0);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Runs f() on the pool and returns (or throws) what it returns (throws). f is called on another
  // thread while the caller is suspended, so it may refer to the caller's locals.
  template <typename F>
  boost::asio::awaitable<std::invoke_result_t<F&>> run(F f) {
    using R = std::invoke_result_t<F&>;
    if constexpr (std::is_void_v<R>) {
      co_await run_function([&] { f(); });
    } else {
      std::optional<R> result;
      co_await run_function([&] { result.emplace(f()); });
      co_return std::move(*result);
    }
  }
  // Waits until every job posted so far, queued ones included, has finished; no job runs after.
  void wait() { pool_.wait(); }

  // run() without a template: the work's result goes through the caller's captures.
  boost::asio::awaitable<void> run_function(std::function<void()> work);

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace onsen::http
