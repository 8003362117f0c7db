// The HTTP server over plain TCP: a real Server on 127.0.0.1:0, driven by a raw socket client.
#include "http/server.h"

#include "http/blocking_pool.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstring>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "test_client.h"

namespace onsen::http {
namespace {

using test::RawClient;
using test::TestServer;
using namespace std::chrono_literals;

std::string get(std::string_view target, std::string_view extra = "") {
  return fmt::format("GET {} HTTP/1.1\r\nHost: x\r\n{}\r\n", target, extra);
}

// Reads the whole request body through the BodyReader with a small buffer.
net::awaitable<std::string> read_all(BodyReader& body, size_t chunk = 7) {
  std::string out;
  std::vector<char> buf(chunk);
  for (;;) {
    size_t n = co_await body.read_some(buf.data(), buf.size());
    if (n == 0) break;
    out.append(buf.data(), n);
  }
  co_return out;
}

Response text(std::string body, unsigned status = 200) {
  Response r;
  r.status = status;
  r.headers.add("Content-Type", "text/plain");
  r.body = std::move(body);
  return r;
}

std::string pattern(size_t n, size_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed + i / 251) % 26);
  return s;
}

TEST(ServerTest, PlainGet) {
  std::mutex mu;
  Request seen;
  ServerOptions opts;
  opts.extra_headers = {{"X-Extra", "yes"}, {"X-Override", "server"}};
  TestServer srv(
      [&](Request& req) -> net::awaitable<Response> {
        {
          std::lock_guard lock(mu);
          seen.method = req.method;
          seen.target = req.target;
          seen.path = req.path;
          seen.query = req.query;
          seen.remote = req.remote;
          seen.headers = req.headers;
        }
        Response r = text("hello");
        r.headers.add("X-Override", "handler");
        r.headers.add("Content-Length", "999");  // the transport owns it
        co_return r;
      },
      opts);
  RawClient c(srv.port());
  c.send(get("/v2/foo/tags/list?n=1&last=a", "X-Custom: Value\r\n"));
  auto res = c.read_response();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "hello");
  EXPECT_EQ(res[bhttp::field::content_length], "5");
  EXPECT_EQ(res["X-Extra"], "yes");
  EXPECT_EQ(res["X-Override"], "handler");
  EXPECT_EQ(res.count("X-Override"), 1u);
  EXPECT_FALSE(res[bhttp::field::date].empty());
  EXPECT_EQ(res.version(), 11);
  EXPECT_TRUE(res.keep_alive());

  std::lock_guard lock(mu);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/v2/foo/tags/list?n=1&last=a");
  EXPECT_EQ(seen.path, "/v2/foo/tags/list");
  EXPECT_EQ(seen.query, "n=1&last=a");
  EXPECT_EQ(seen.remote.rfind("127.0.0.1:", 0), 0u) << seen.remote;
  EXPECT_EQ(seen.headers.get("x-custom"), "Value");
  EXPECT_EQ(seen.headers.get("HOST"), "x");
  EXPECT_FALSE(seen.headers.get("missing"));
}

TEST(ServerTest, AbsoluteFormTargetYieldsPath) {
  TestServer srv([](Request& req) -> net::awaitable<Response> {
    co_return text(req.path + "|" + req.query + "|" + req.target);
  });
  RawClient c(srv.port());
  c.send(get("http://example.com:5000/v2/a/b?x=1"));
  EXPECT_EQ(c.read_response().body(), "/v2/a/b|x=1|http://example.com:5000/v2/a/b?x=1");
  c.send(get("http://example.com"));
  EXPECT_EQ(c.read_response().body(), "/||http://example.com");
}

TEST(ServerTest, HeadAnnouncesHeadLengthWithoutBody) {
  TestServer srv([](Request& req) -> net::awaitable<Response> {
    if (req.path == "/head-length") {
      Response r;
      r.head_length = 123456;
      co_return r;
    }
    co_return text("0123456789");  // HEAD without head_length: the body's length, no body
  });
  RawClient c(srv.port());
  c.send("HEAD /head-length HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r1 = c.read_response(true);
  EXPECT_EQ(r1.result_int(), 200);
  EXPECT_EQ(r1[bhttp::field::content_length], "123456");
  c.send("HEAD /other HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r2 = c.read_response(true);
  EXPECT_EQ(r2[bhttp::field::content_length], "10");
  // No body bytes were sent: the next response parses cleanly.
  c.send(get("/other"));
  auto r3 = c.read_response();
  EXPECT_EQ(r3.body(), "0123456789");
}

TEST(ServerTest, NoContentHasNoContentLength) {
  TestServer srv([](Request&) -> net::awaitable<Response> {
    Response r;
    r.status = 204;
    r.body = std::string("ignored");
    co_return r;
  });
  RawClient c(srv.port());
  c.send("DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.result_int(), 204);
  EXPECT_EQ(r.count(bhttp::field::content_length), 0u);
  c.send(get("/"));  // still in sync
  EXPECT_EQ(c.read_response().result_int(), 204);
}

TEST(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::atomic<int> n{0};
  std::mutex mu;
  std::set<std::string> remotes;
  TestServer srv([&](Request& req) -> net::awaitable<Response> {
    {
      std::lock_guard lock(mu);
      remotes.insert(req.remote);
    }
    co_return text(std::to_string(++n));
  });
  RawClient c(srv.port());
  for (int i = 1; i <= 5; ++i) {
    c.send(get("/"));
    auto r = c.read_response();
    EXPECT_EQ(r.body(), std::to_string(i));
  }
  EXPECT_EQ(remotes.size(), 1u);
}

TEST(ServerTest, PipelinedRequestsAnswerInOrder) {
  TestServer srv([](Request& req) -> net::awaitable<Response> {
    auto body = co_await read_all(*req.body);
    co_return text(req.path + ":" + body);
  });
  RawClient c(srv.port());
  c.send(get("/a") + "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz" + get("/c"));
  EXPECT_EQ(c.read_response().body(), "/a:");
  EXPECT_EQ(c.read_response().body(), "/b:xyz");
  EXPECT_EQ(c.read_response().body(), "/c:");
}

TEST(ServerTest, ChunkedRequestBody) {
  std::atomic<bool> had_length{true};
  TestServer srv([&](Request& req) -> net::awaitable<Response> {
    had_length = req.body->content_length().has_value();
    co_return text(co_await read_all(*req.body, 5));
  });
  RawClient c(srv.port());
  c.send(
      "PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nWiki\r\n5\r\npedia\r\n");
  std::this_thread::sleep_for(50ms);  // the body arrives in pieces
  c.send("E\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.body(), "Wikipedia in\r\n\r\nchunks.");
  EXPECT_FALSE(had_length);
  c.send(get("/"));  // still in sync
  EXPECT_EQ(c.read_response().result_int(), 200);
}

TEST(ServerTest, LargeContentLengthBody) {
  const std::string payload = pattern(3 << 20);
  std::atomic<uint64_t> declared{0};
  TestServer srv([&](Request& req) -> net::awaitable<Response> {
    declared = req.body->content_length().value_or(0);
    auto got = co_await read_all(*req.body, 100000);
    co_return text(got == payload ? "same" : "different:" + std::to_string(got.size()));
  });
  RawClient c(srv.port());
  c.send(fmt::format("PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", payload.size()));
  c.send(payload);
  EXPECT_EQ(c.read_response().body(), "same");
  EXPECT_EQ(declared, payload.size());
}

TEST(ServerTest, ExpectContinueOnFirstRead) {
  TestServer srv([](Request& req) -> net::awaitable<Response> {
    co_return text("got:" + co_await read_all(*req.body));
  });
  RawClient c(srv.port());
  c.send("PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.read_response();
  EXPECT_EQ(interim.result_int(), 100);
  c.send("hello");
  auto r = c.read_response();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "got:hello");
  EXPECT_TRUE(r.keep_alive());
}

TEST(ServerTest, ExpectContinueNotReadClosesWithoutContinue) {
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return text("denied", 401); });
  RawClient c(srv.port());
  c.send("PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.result_int(), 401);  // not 100
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(ServerTest, SmallUnreadBodyIsDrained) {
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return text("ok"); });
  RawClient c(srv.port());
  c.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
  auto r = c.read_response();
  EXPECT_TRUE(r.keep_alive());
  c.send(get("/"));
  EXPECT_EQ(c.read_response().body(), "ok");
  // Chunked as well.
  c.send("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_TRUE(c.read_response().keep_alive());
  c.send(get("/"));
  EXPECT_EQ(c.read_response().body(), "ok");
}

TEST(ServerTest, LargeUnreadBodyClosesTheConnection) {
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return text("no", 403); });
  RawClient c(srv.port());
  const std::string payload = pattern(2 << 20);
  c.send(fmt::format("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", payload.size()));
  auto r = c.read_response();  // answered before we sent the body
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_FALSE(r.keep_alive());
  // The server lingers and discards what we still send, then closes.
  c.send(payload.substr(0, 1 << 20));
  EXPECT_EQ(c.read_until_close(), "");
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char path[] = "/tmp/onsen_http_test_XXXXXX";
    fd_ = ::mkstemp(path);
    path_ = path;
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::write(fd_, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ::lseek(fd_, 0, SEEK_SET);
  }
  ~TempFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string path_;
};

TEST(ServerTest, FileBodyRangeWithSendfile) {
  const std::string content = pattern(5 << 20, 3);
  TempFile file(content);
  const uint64_t offset = 1000, length = (4 << 20) + 12345;
  TestServer srv([&](Request& req) -> net::awaitable<Response> {
    Response r;
    r.headers.add("Content-Type", "application/octet-stream");
    if (req.path == "/empty") {
      r.body = FileBody{nullptr, file.fd(), 0, 0};
    } else {
      r.body = FileBody{std::make_shared<int>(1), file.fd(), offset, length};
    }
    co_return r;
  });
  RawClient c(srv.port());
  c.send(get("/blob"));
  auto r = c.read_response();
  EXPECT_EQ(r[bhttp::field::content_length], std::to_string(length));
  ASSERT_EQ(r.body().size(), length);
  EXPECT_TRUE(r.body() == content.substr(offset, length));
  EXPECT_EQ(::lseek(file.fd(), 0, SEEK_CUR), 0);  // the file position did not move
  // HEAD: no body.
  c.send("HEAD /blob HTTP/1.1\r\nHost: x\r\n\r\n");
  auto h = c.read_response(true);
  EXPECT_EQ(h[bhttp::field::content_length], std::to_string(length));
  c.send(get("/empty"));
  auto e = c.read_response();
  EXPECT_EQ(e[bhttp::field::content_length], "0");
  c.send(get("/blob"));  // again, in sync
  EXPECT_EQ(c.read_response().body().size(), length);
}

TEST(ServerTest, FileBodySlowReaderIsServedCompletely) {
  // More than loopback's socket buffers hold while the client is not reading: sendfile hits
  // EAGAIN and the session waits for writability.
  const std::string content = pattern(24 << 20, 5);
  TempFile file(content);
  TestServer srv([&](Request&) -> net::awaitable<Response> {
    Response r;
    r.body = FileBody{nullptr, file.fd(), 0, content.size()};
    co_return r;
  });
  RawClient c(srv.port());
  c.send(get("/"));
  std::this_thread::sleep_for(300ms);
  auto r = c.read_response();
  EXPECT_TRUE(r.body() == content);
}

// A handler that answers every request with the whole of file (size bytes).
auto whole_file(const TempFile& file, uint64_t size) {
  return [&file, size](Request&) -> net::awaitable<Response> {
    Response r;
    r.body = FileBody{nullptr, file.fd(), 0, size};
    co_return r;
  };
}

// A client that stops reading a file body: each wait for room is bounded by read_timeout, and the
// connection is closed before the body is complete.
TEST(ServerTest, FileBodyStalledReaderIsClosedAfterReadTimeout) {
  ServerOptions opts;
  opts.read_timeout = 1s;
  const std::string content = pattern(32 << 20, 7);
  TempFile file(content);
  TestServer srv(whole_file(file, content.size()), opts);
  RawClient c(srv.port(), 5s);
  c.send(get("/"));
  std::this_thread::sleep_for(2500ms);
  std::string raw = c.read_until_close();
  EXPECT_GT(raw.size(), 0u);
  EXPECT_LT(raw.size(), content.size());  // closed: what the socket buffers held, not the rest
}

// A client slower than the server but never stalled for read_timeout: the whole transfer lasts
// several read_timeouts, each wait for room a fraction of one; it must be served completely.
TEST(ServerTest, FileBodySlowReaderOverManyReadTimeoutsIsServed) {
  ServerOptions opts;
  opts.read_timeout = 1s;
  const std::string content = pattern(4 << 20, 11);
  TempFile file(content);
  TestServer srv(whole_file(file, content.size()), opts);
  RawClient c(srv.port(), 5s);
  int small = 64 << 10;
  ::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  c.send(get("/"));
  std::string raw;
  char buf[128 << 10];
  const auto t0 = std::chrono::steady_clock::now();
  while (raw.size() < content.size() + 100) {
    std::this_thread::sleep_for(100ms);
    ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
    if (raw.find("\r\n\r\n") != std::string::npos &&
        raw.size() - raw.find("\r\n\r\n") - 4 == content.size()) {
      break;
    }
  }
  EXPECT_GT(std::chrono::steady_clock::now() - t0, 2500ms);  // the case meant: > 2 read_timeouts
  auto body_at = raw.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  EXPECT_TRUE(raw.substr(body_at + 4) == content);
}

// Reads from c until the response head has arrived (some body bytes may follow it).
void read_head(RawClient& c) {
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
}

// The unsent-bytes bound applies while a single file body is being sent by the server: the count
// is the server's, so another server's stalled send in the same process does not lift it.
TEST(ServerTest, FileSendsAreCountedPerServer) {
  const std::string content = pattern(64 << 20, 13);
  TempFile file(content);
  TestServer a(whole_file(file, content.size()));
  TestServer b(whole_file(file, content.size()));
  RawClient stalled(a.port());  // never reads past the head: a's send stays in progress
  stalled.send(get("/"));
  read_head(stalled);
  RawClient other(b.port());
  other.send(get("/"));
  read_head(other);
  EXPECT_EQ(test::server_unsent_bound(other.fd()), 64 << 10);  // the only send of b: bounded
  RawClient second(a.port());
  second.send(get("/"));
  read_head(second);
  EXPECT_EQ(test::server_unsent_bound(second.fd()), 0);  // a's second send: no bound
}

// The source reads on a BlockingPool thread, as an object store's would: the session waits for
// each read without blocking its I/O thread.
TEST(ServerTest, StreamBody) {
  const std::string content = pattern(1 << 20, 9);
  BlockingPool pool(2);
  TestServer srv([&](Request& req) -> net::awaitable<Response> {
    Response r;
    auto pos = std::make_shared<size_t>(0);
    uint64_t len = content.size();
    size_t stop_at = content.size();
    if (req.path == "/short") stop_at = 600000;    // ends early, after the head went out
    if (req.path == "/empty-source") stop_at = 0;  // fails before anything was sent
    r.body = StreamBody{pos,
                        [&content, &pool, pos, stop_at](char* buf, size_t n) {
                          return pool.run([&content, pos, stop_at, buf, n] {
                            size_t k = std::min(n, stop_at - *pos);
                            std::memcpy(buf, content.data() + *pos, k);
                            *pos += k;
                            return k;
                          });
                        },
                        len};
    co_return r;
  });
  {
    RawClient c(srv.port());
    c.send(get("/full"));
    auto r = c.read_response();
    EXPECT_EQ(r[bhttp::field::content_length], std::to_string(content.size()));
    EXPECT_TRUE(r.body() == content);
  }
  {
    RawClient c(srv.port());
    c.send(get("/short"));
    std::string raw = c.read_until_close();  // closed after the bytes that exist
    auto hdr_end = raw.find("\r\n\r\n");
    ASSERT_NE(hdr_end, std::string::npos);
    EXPECT_EQ(raw.size() - hdr_end - 4, 600000u);
  }
  {
    RawClient c(srv.port());
    c.send(get("/empty-source"));
    auto r = c.read_response();
    EXPECT_EQ(r.result_int(), 500);
    EXPECT_TRUE(c.closed_by_peer());
  }
  // The pool's owner's duty (blocking_pool.h): no job may still hold the server's io_context
  // when it is destroyed.
  srv.stop_and_join();
  pool.wait();
}

TEST(ServerTest, HeaderTooLargeIs431) {
  ServerOptions opts;
  opts.header_limit = 1024;
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return text("ok"); }, opts);
  RawClient c(srv.port());
  c.send(get("/", "X-Big: " + std::string(4000, 'a') + "\r\n"));
  auto r = c.read_response();
  EXPECT_EQ(r.result_int(), 431);
  EXPECT_NE(r.body().find(R"("code":"UNSUPPORTED")"), std::string::npos);
  EXPECT_EQ(r[bhttp::field::content_type], "application/json; charset=utf-8");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(ServerTest, ContentLengthWithTransferEncodingIs400) {
  std::atomic<int> calls{0};
  TestServer srv([&](Request&) -> net::awaitable<Response> {
    ++calls;
    co_return text("ok");
  });
  for (std::string headers :
       {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n", "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: identity\r\n"}) {
    RawClient c(srv.port());
    c.send("POST / HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n0\r\n\r\n");
    auto r = c.read_response();
    EXPECT_EQ(r.result_int(), 400) << headers;
    EXPECT_NE(r.body().find("UNSUPPORTED"), std::string::npos);
    EXPECT_TRUE(c.closed_by_peer()) << headers;
  }
  EXPECT_EQ(calls, 0);
}

TEST(ServerTest, MalformedRequestIs400) {
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return text("ok"); });
  RawClient c(srv.port());
  c.send("GET / HTTP/1.1\r\nBad Header\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(ServerTest, HandlerExceptionIs500Json) {
  TestServer srv([](Request& req) -> net::awaitable<Response> {
    if (req.path == "/boom") throw std::runtime_error("secret detail");
    co_return text("ok");
  });
  RawClient c(srv.port());
  c.send(get("/boom"));
  auto r = c.read_response();
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_EQ(r.body(), R"({"errors":[{"code":"UNKNOWN","message":"internal error"}]})");
  EXPECT_TRUE(r.keep_alive());
  c.send(get("/"));
  EXPECT_EQ(c.read_response().body(), "ok");
}

TEST(ServerTest, Http10ClosesUnlessKeepAlive) {
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return text("ok"); });
  {
    RawClient c(srv.port());
    c.send("GET / HTTP/1.0\r\n\r\n");
    auto r = c.read_response();
    EXPECT_EQ(r.version(), 10);
    EXPECT_EQ(r.body(), "ok");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    RawClient c(srv.port());
    c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto r = c.read_response();
    EXPECT_EQ(r[bhttp::field::connection], "keep-alive");
    c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(c.read_response().body(), "ok");
  }
}

TEST(ServerTest, IdleTimeoutClosesTheConnection) {
  ServerOptions opts;
  opts.idle_timeout = 1s;
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return text("ok"); }, opts);
  RawClient c(srv.port(), 5s);
  c.send(get("/"));
  EXPECT_EQ(c.read_response().body(), "ok");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 800ms);
  EXPECT_LT(waited, 4s);
}

TEST(ServerTest, ReadTimeoutOnStalledBody) {
  ServerOptions opts;
  opts.read_timeout = 1s;
  std::promise<std::string> error;
  TestServer srv(
      [&](Request& req) -> net::awaitable<Response> {
        try {
          co_await read_all(*req.body);
          error.set_value("");
        } catch (const std::exception& e) {
          error.set_value(e.what());
          throw;
        }
        co_return text("ok");
      },
      opts);
  RawClient c(srv.port(), 5s);
  c.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
  auto f = error.get_future();
  ASSERT_EQ(f.wait_for(4s), std::future_status::ready);
  EXPECT_NE(f.get(), "");
  EXPECT_EQ(c.read_until_close(), "");  // closed without a response
}

TEST(ServerTest, GracefulStopLetsInFlightRequestFinish) {
  std::promise<void> entered;
  auto entered_f = entered.get_future();
  auto srv = std::make_unique<TestServer>([&](Request& req) -> net::awaitable<Response> {
    if (req.path == "/slow") {
      entered.set_value();
      net::steady_timer t(co_await net::this_coro::executor, 500ms);
      co_await t.async_wait(net::use_awaitable);
    }
    co_return text("done");
  });
  RawClient idle(srv->port());
  idle.send(get("/"));
  EXPECT_EQ(idle.read_response().body(), "done");

  RawClient busy(srv->port());
  busy.send(get("/slow"));
  ASSERT_EQ(entered_f.wait_for(5s), std::future_status::ready);
  auto t0 = std::chrono::steady_clock::now();
  srv->server().stop();
  EXPECT_TRUE(idle.closed_by_peer());  // idle keep-alive connection: closed at once
  auto r = busy.read_response();
  EXPECT_EQ(r.body(), "done");
  EXPECT_FALSE(r.keep_alive());  // Connection: close while stopping
  srv->stop_and_join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_THROW(RawClient c(srv->port()), std::runtime_error);  // no longer listening
}

TEST(ServerTest, StopForceClosesAfterDrainTimeout) {
  ServerOptions opts;
  opts.drain_timeout = 1s;
  TestServer srv(
      [](Request& req) -> net::awaitable<Response> {
        co_await read_all(*req.body);  // the client never sends it
        co_return text("never");
      },
      opts);
  RawClient c(srv.port());
  c.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
  std::this_thread::sleep_for(100ms);
  auto t0 = std::chrono::steady_clock::now();
  srv.stop_and_join();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 4s);
}

TEST(ServerTest, MaxConnections) {
  ServerOptions opts;
  opts.max_connections = 1;
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return text("ok"); }, opts);
  RawClient a(srv.port());
  a.send(get("/"));
  EXPECT_EQ(a.read_response().body(), "ok");
  RawClient b(srv.port());
  EXPECT_TRUE(b.closed_by_peer());
  a.send(get("/"));
  EXPECT_EQ(a.read_response().body(), "ok");
}

TEST(ServerTest, StartFailsClearly) {
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return text("ok"); });
  ServerOptions opts;
  opts.addr = "127.0.0.1:" + std::to_string(srv.port());
  Server taken(opts, [](Request&) -> net::awaitable<Response> { co_return Response{}; });
  try {
    taken.start();
    FAIL() << "expected a bind failure";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen"), std::string::npos) << e.what();
  }
  opts.addr = "nonsense";
  Server bad(opts, [](Request&) -> net::awaitable<Response> { co_return Response{}; });
  EXPECT_THROW(bad.start(), std::runtime_error);
  opts.addr = "127.0.0.1:0";
  opts.tls_certificate = "/nonexistent/cert.pem";
  opts.tls_key = "/nonexistent/key.pem";
  Server tls(opts, [](Request&) -> net::awaitable<Response> { co_return Response{}; });
  try {
    tls.start();
    FAIL() << "expected a TLS failure";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cert.pem"), std::string::npos) << e.what();
  }
}

// registry:2 (Go) listens on IPv4 and IPv6 for every wildcard form of http.addr.
TEST(ServerTest, WildcardAddressesListenOnIpv4AndIpv6) {
  for (const char* addr : {":0", "0.0.0.0:0", "[::]:0"}) {
    ServerOptions opts;
    opts.addr = addr;
    TestServer srv([](Request& req) -> net::awaitable<Response> { co_return text(req.remote); },
                   opts);
    RawClient v4(srv.port());
    v4.send(get("/"));
    // IPv4 peers of the dual-stack socket are reported as IPv4, not as v4-mapped IPv6.
    EXPECT_EQ(v4.read_response().body().rfind("127.0.0.1:", 0), 0u) << addr;
    RawClient v6(test::Ipv6Loopback{srv.port()});
    v6.send(get("/"));
    EXPECT_EQ(v6.read_response().body().rfind("[::1]:", 0), 0u) << addr;
  }
}

TEST(ServerTest, ExplicitAddressListensOnThatAddressOnly) {
  ServerOptions opts;
  opts.addr = "127.0.0.1:0";
  TestServer v4([](Request&) -> net::awaitable<Response> { co_return text("ok"); }, opts);
  EXPECT_THROW(RawClient c(test::Ipv6Loopback{v4.port()}), std::runtime_error);
  opts.addr = "[::1]:0";
  TestServer v6([](Request&) -> net::awaitable<Response> { co_return text("ok"); }, opts);
  EXPECT_THROW(RawClient c(v6.port()), std::runtime_error);
  RawClient c(test::Ipv6Loopback{v6.port()});
  c.send(get("/"));
  EXPECT_EQ(c.read_response().body(), "ok");
}

TEST(ServerTest, ConcurrentClients) {
  std::atomic<int> calls{0};
  TestServer srv([&](Request& req) -> net::awaitable<Response> {
    ++calls;
    auto body = co_await read_all(*req.body, 4096);
    co_return text(req.path + ":" + std::to_string(body.size()));
  });
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      RawClient c(srv.port());
      for (int i = 0; i < 20; ++i) {
        std::string body(static_cast<size_t>(t * 1000 + i), 'x');
        c.send(fmt::format("POST /{}/{} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", t, i,
                           body.size()) +
               body);
        if (c.read_response().body() == fmt::format("/{}/{}:{}", t, i, body.size())) ++good;
      }
    });
  }
  for (auto& th : clients) th.join();
  EXPECT_EQ(good, 16 * 20);
  EXPECT_EQ(calls, 16 * 20);
}

TEST(ServerTest, SigtermStopsGracefully) {
  ServerOptions opts;
  opts.addr = "127.0.0.1:0";
  opts.threads = 1;
  Server server(opts, [](Request&) -> net::awaitable<Response> { co_return text("ok"); });
  server.start();
  server.stop_on_signals();
  std::thread runner([&] { server.run(); });
  {
    RawClient c(server.port());
    c.send(get("/"));
    EXPECT_EQ(c.read_response().body(), "ok");
  }
  ::kill(::getpid(), SIGTERM);
  runner.join();  // returns: the signal stopped it
  SUCCEED();
}

}  // namespace
}  // namespace onsen::http
