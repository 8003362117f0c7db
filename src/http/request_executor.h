// Internal to the transport: the executor a session's coroutine runs on. It is the session's
// strand, plus one thing: every function it runs (each resumption of the coroutine: after a socket
// operation, a timer, a blocking-pool job) runs with the session's current request id as the
// thread's (base/request_context.h), and the previous one restored after. So a log line written by
// a request's code on an I/O thread carries that request's id, and never another session's:
// coroutines of many sessions take turns on the same thread.
//
// Its size is that of a strand (an io_context executor, whose bits carry the properties asked for,
// and a shared pointer), so any_io_executor holds it without allocating, as it holds the strand.
#pragma once

#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>

#include <memory>
#include <string>
#include <utility>

#include "base/request_context.h"

namespace onsen::http::detail {

using SessionStrand = boost::asio::strand<boost::asio::io_context::executor_type>;

// Shared by a session and the executors of its coroutine.
struct SessionLogContext {
  explicit SessionLogContext(SessionStrand s) : strand(std::move(s)) {}
  SessionStrand strand;    // the session's (its socket's) strand
  std::string request_id;  // of the request being served; "" between requests
};

// Bits: an io_context executor type; its properties (blocking, relationship, outstanding work,
// allocator) are this executor's, its functions run on the context's strand.
template <class Bits>
class RequestExecutor {
 public:
  RequestExecutor(Bits bits, std::shared_ptr<SessionLogContext> context) noexcept
      : bits_(std::move(bits)), context_(std::move(context)) {}

  template <class F>
  void execute(F&& f) const {
    namespace ex = boost::asio::execution;
    auto run = [context = context_, f = std::forward<F>(f)]() mutable {
      base::RequestIdScope scope(&context->request_id);
      std::move(f)();
    };
    const auto& strand = context_->strand;
    const bool never = boost::asio::query(bits_, ex::blocking) == ex::blocking.never;
    const bool continuation =
        boost::asio::query(bits_, ex::relationship) == ex::relationship.continuation;
    if (never && continuation) {
      boost::asio::require(strand, ex::blocking.never, ex::relationship.continuation)
          .execute(std::move(run));
    } else if (never) {
      boost::asio::require(strand, ex::blocking.never).execute(std::move(run));
    } else if (continuation) {
      boost::asio::require(strand, ex::relationship.continuation).execute(std::move(run));
    } else {
      strand.execute(std::move(run));
    }
  }

  // Queries answer as the io_context executor does (the strand answers the same).
  template <class Property>
  auto query(const Property& p) const noexcept(noexcept(boost::asio::query(bits_, p)))
      -> decltype(boost::asio::query(std::declval<const Bits&>(), p)) {
    return boost::asio::query(bits_, p);
  }

  // Any property the io_context executor supports (prefer() falls back on this too).
  template <class Property>
  auto require(const Property& p) const -> RequestExecutor<
      std::decay_t<decltype(boost::asio::require(std::declval<const Bits&>(), p))>> {
    return {boost::asio::require(bits_, p), context_};
  }

  friend bool operator==(const RequestExecutor& a, const RequestExecutor& b) noexcept {
    return a.bits_ == b.bits_ && a.context_ == b.context_;
  }
  friend bool operator!=(const RequestExecutor& a, const RequestExecutor& b) noexcept {
    return !(a == b);
  }

 private:
  template <class>
  friend class RequestExecutor;

  Bits bits_;
  std::shared_ptr<SessionLogContext> context_;
};

// any_io_executor holds a target of this size without allocating.
static_assert(sizeof(RequestExecutor<boost::asio::io_context::executor_type>) <=
              sizeof(SessionStrand));

}  // namespace onsen::http::detail
