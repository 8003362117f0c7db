// Request.peer and its text Request.remote: "ip:port" over IPv4, "[ip]:port" over IPv6 (IPv4-mapped
// addresses shown as IPv4), "unix" over a unix socket (see message.h).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "http/server.h"
#include "test_client.h"

namespace onsen::http {
namespace {

namespace net = boost::asio;
using test::RawClient;
using test::TestServer;

// Records the remote of each request.
class RemoteRecorder {
 public:
  Handler handler() {
    return [this](Request& req) -> net::awaitable<Response> {
      {
        std::lock_guard lock(mu_);
        last_ = req.remote;
        peer_ = req.peer;
      }
      co_return Response{};
    };
  }
  std::string last() {
    std::lock_guard lock(mu_);
    return last_;
  }
  Peer peer() {
    std::lock_guard lock(mu_);
    return peer_;
  }

 private:
  std::mutex mu_;
  std::string last_;
  Peer peer_;
};

// The client's own address as the server should print it.
std::string local_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &sa->sin_addr, host, sizeof host);
    return fmt::format("{}:{}", host, ntohs(sa->sin_port));
  }
  auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
  ::inet_ntop(AF_INET6, &sa->sin6_addr, host, sizeof host);
  return fmt::format("[{}]:{}", host, ntohs(sa->sin6_port));
}

std::string remote_of(RemoteRecorder& rec, RawClient& c) {
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response().result_int(), 200);
  return rec.last();
}

// The remote the server saw for c's request is c's own address, and starts with prefix.
void expect_remote(RemoteRecorder& rec, RawClient& c, std::string_view prefix) {
  std::string remote = remote_of(rec, c);
  EXPECT_EQ(remote, local_name(c.fd()));
  EXPECT_EQ(remote.rfind(prefix, 0), 0u) << remote;
}

class RemoteTest : public ::testing::Test {
 protected:
  // A server on addr, or null with why_ set when the machine cannot listen there (no IPv6).
  std::unique_ptr<TestServer> start_if_possible(std::string addr) {
    ServerOptions opts;
    opts.addr = std::move(addr);
    try {
      return std::make_unique<TestServer>(rec.handler(), opts);
    } catch (const std::runtime_error& e) {
      why_ = e.what();
      return nullptr;
    }
  }

  RemoteRecorder rec;
  std::string why_;
};

TEST_F(RemoteTest, Ipv4IsAddressColonPort) {
  TestServer srv(rec.handler());  // 127.0.0.1:0
  RawClient c(srv.port());
  expect_remote(rec, c, "127.0.0.1:");
  // The same, structured: no text to parse back.
  EXPECT_EQ(rec.peer().address, "127.0.0.1");
  EXPECT_EQ(rec.peer().to_string(), rec.last());
  EXPECT_NE(rec.peer().port, 0);
}

TEST_F(RemoteTest, Ipv6IsBracketed) {
  auto srv = start_if_possible("[::1]:0");
  if (!srv) GTEST_SKIP() << "no IPv6 loopback: " << why_;
  RawClient c(test::Ipv6Loopback{srv->port()});
  expect_remote(rec, c, "[::1]:");
  EXPECT_EQ(rec.peer().address, "::1");  // no brackets
  EXPECT_EQ(rec.peer().to_string(), rec.last());
}

TEST_F(RemoteTest, Ipv4OnDualStackListenerIsPlainIpv4) {
  // An IPv6 socket accepting IPv4 too: peers arrive as ::ffff:a.b.c.d
  auto srv = start_if_possible("[::]:0");
  if (!srv) GTEST_SKIP() << "no IPv6: " << why_;
  RawClient c(srv->port());
  expect_remote(rec, c, "127.0.0.1:");
  EXPECT_EQ(rec.peer().address, "127.0.0.1");  // not ::ffff:127.0.0.1
}

TEST_F(RemoteTest, UnixSocketIsUnix) {
  ServerOptions opts;
  opts.net = "unix";
  opts.addr = fmt::format("@onsen-remote-test-{}", ::getpid());
  TestServer srv(rec.handler(), opts);
  RawClient c(test::UnixPath{opts.addr});
  EXPECT_EQ(remote_of(rec, c), "unix");
  EXPECT_TRUE(rec.peer().unix_socket());
  EXPECT_EQ(rec.peer().port, 0);
}

}  // namespace
}  // namespace onsen::http
