// health_handler and health_gate (see health_endpoints.h).
#include "cli/health_endpoints.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>

namespace onsen::cli {

namespace {

namespace asio = boost::asio;

constexpr std::chrono::seconds kLivenessWait{5};

// registry:2's statusResponse: the map as a JSON object, 503 unless it is empty.
http::Response status_response(const std::map<std::string, std::string>& problems) {
  http::Response res;
  res.status = problems.empty() ? 200 : 503;
  res.headers.set("Content-Type", "application/json; charset=utf-8");
  res.headers.set("Cache-Control", "no-cache");
  res.body =
      nlohmann::json(problems).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

http::Response not_found() {
  http::Response res;
  res.status = 404;
  res.headers.set("Content-Type", "text/plain; charset=utf-8");
  res.body = std::string("404 page not found\n");
  return res;
}

// Whether one of `server`'s I/O threads runs a posted no-op within kLivenessWait. The posted
// function holds the timer weakly: it may be destroyed unrun with the main server, after this
// (debug) server's executor is gone.
asio::awaitable<bool> io_loop_answers(http::Server& server) {
  auto timer =
      std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, kLivenessWait);
  auto answered = std::make_shared<std::atomic<bool>>(false);
  server.post([weak = std::weak_ptr<asio::steady_timer>(timer), answered] {
    answered->store(true);
    if (auto t = weak.lock()) asio::post(t->get_executor(), [t] { t->cancel(); });
  });
  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  co_return answered->load();
}

}  // namespace

http::Handler health_handler(const HealthChecks& checks, http::Server& server,
                             std::string storage_check) {
  return [&checks, &server, storage_check = std::move(storage_check)](
             http::Request& req) -> asio::awaitable<http::Response> {
    // registry:2 answers GET only on /debug/health; readiness and liveness take HEAD too.
    if (req.path == "/debug/health" && req.method == "GET") {
      co_return status_response(checks.failing());
    }
    if (req.method != "GET" && req.method != "HEAD") co_return not_found();
    if (req.path == "/debug/ready") {
      std::map<std::string, std::string> problems = checks.failing();
      if (server.stopping()) problems["server"] = "stopping";
      if (!storage_check.empty() && !checks.passed_once(storage_check)) {
        problems.emplace(storage_check, "no successful probe yet");
      }
      co_return status_response(problems);
    }
    if (req.path == "/debug/live") {
      std::map<std::string, std::string> problems;
      if (!co_await io_loop_answers(server)) {
        problems["server"] = "the I/O loop did not answer within 5s";
      }
      co_return status_response(problems);
    }
    co_return not_found();
  };
}

http::Handler health_gate(const HealthChecks& checks, http::Handler next) {
  return [&checks, next = std::move(next)](http::Request& req) -> asio::awaitable<http::Response> {
    if (!checks.any_failing()) co_return co_await next(req);
    http::Response res;
    res.status = 503;
    res.headers.set("Content-Type", "application/json; charset=utf-8");
    res.body = std::string(R"({"errors":[{"code":"UNAVAILABLE","message":"service unavailable",)"
                           R"("detail":"health check failed: please see /debug/health"}]})"
                           "\n");
    co_return res;
  };
}

}  // namespace onsen::cli
