// Mux: prefix routing (segment boundaries, longest prefix, replacement), the default 404, and
// dispatch through a real server.
#include "http/mux.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <string>

#include "test_client.h"

namespace onsen::http {
namespace {

namespace net = boost::asio;
using test::RawClient;
using test::TestServer;

// A handler answering its own name, so a test sees which one a path reached.
Handler named(std::string name) {
  return [name](Request& req) -> net::awaitable<Response> {
    Response res;
    res.body = name + " " + req.path;
    co_return res;
  };
}

std::string reached(const Mux& mux, std::string path) {
  Request req;
  req.path = path;
  net::io_context io;
  auto result = net::co_spawn(io, mux.route(path)(req), net::use_future);
  io.run();
  auto res = result.get();
  if (res.status != 200) return std::to_string(res.status);
  return std::get<std::string>(res.body).substr(0, std::get<std::string>(res.body).find(' '));
}

TEST(Mux, RoutesByPrefixOnSegmentBoundaries) {
  Mux mux;
  mux.handle("/v2", named("api"));
  mux.handle("/ui/", named("ui"));  // a trailing '/' means the same prefix
  mux.handle("/ui/assets", named("assets"));
  EXPECT_EQ(reached(mux, "/v2"), "api");
  EXPECT_EQ(reached(mux, "/v2/"), "api");
  EXPECT_EQ(reached(mux, "/v2/team/app/tags/list"), "api");
  EXPECT_EQ(reached(mux, "/ui"), "ui");
  EXPECT_EQ(reached(mux, "/ui/index.html"), "ui");
  EXPECT_EQ(reached(mux, "/ui/assets/app.js"), "assets");  // the longest prefix wins
  EXPECT_EQ(reached(mux, "/ui/assetsx"), "ui");
  // Outside every prefix: 404.
  EXPECT_EQ(reached(mux, "/v2x"), "404");
  EXPECT_EQ(reached(mux, "/"), "404");
  EXPECT_EQ(reached(mux, "/metrics"), "404");
  EXPECT_EQ(reached(mux, "/V2/"), "404");  // paths are case-sensitive
}

TEST(Mux, FallbackAndReplacement) {
  Mux mux;
  mux.handle("/v2", named("old"));
  mux.handle("/v2", named("new"));
  EXPECT_EQ(reached(mux, "/v2/"), "new");
  mux.set_fallback(named("fallback"));
  EXPECT_EQ(reached(mux, "/elsewhere"), "fallback");
  mux.handle("", named("root"));  // matches every path, so the fallback is never reached
  EXPECT_EQ(reached(mux, "/elsewhere"), "root");
  EXPECT_EQ(reached(mux, "/v2/x"), "new");
}

TEST(Mux, DispatchesThroughTheServer) {
  Mux mux;
  mux.handle("/v2", named("api"));
  mux.handle("/metrics", named("metrics"));
  TestServer srv(mux.handler());
  RawClient c(srv.port());
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  auto res = c.read_response();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "metrics /metrics");
  c.send("GET /v2/?n=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  res = c.read_response();
  EXPECT_EQ(res.body(), "api /v2/");
  c.send("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
  res = c.read_response();
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(res.body(), "404 page not found\n");
}

}  // namespace
}  // namespace onsen::http
