// Test helpers of the http layer's unit tests: a server running on a background thread, the
// raw socket client (tests/support/raw_client.h) and what a server's start() refuses.
#pragma once

#include <boost/beast/http.hpp>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "http/server.h"
#include "support/raw_client.h"

namespace onsen::http {
// The names every http test uses for Asio and Beast's HTTP.
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
}  // namespace onsen::http

namespace onsen::http::test {

using HttpResponse = bhttp::response<bhttp::string_body>;

class TestServer {
 public:
  TestServer(Handler handler, ServerOptions options = {}) {
    if (options.addr == ServerOptions{}.addr) options.addr = "127.0.0.1:0";
    options.threads = 2;
    server_ = std::make_unique<Server>(std::move(options), std::move(handler));
    server_->start();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~TestServer() { stop_and_join(); }

  unsigned short port() const { return server_->port(); }
  Server& server() { return *server_; }

  void stop_and_join() {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
  }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

// The server's TCP_NOTSENT_LOWAT (unsent_bound.h) on its end of the connection of client_fd (an
// IPv4 socket): the server runs in this process, so its socket is one of our descriptors, the
// one whose peer is client_fd's address. -1 (and a test failure) when there is none.
inline int server_unsent_bound(int client_fd) {
  sockaddr_in mine{};
  socklen_t len = sizeof mine;
  EXPECT_EQ(::getsockname(client_fd, reinterpret_cast<sockaddr*>(&mine), &len), 0);
  for (int fd = 0; fd < 4096; ++fd) {
    if (fd == client_fd) continue;
    sockaddr_in peer{};
    len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 || len != sizeof peer ||
        peer.sin_family != AF_INET || peer.sin_port != mine.sin_port ||
        peer.sin_addr.s_addr != mine.sin_addr.s_addr) {
      continue;
    }
    int value = -1;
    len = sizeof value;
    EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &value, &len), 0);
    return value;
  }
  ADD_FAILURE() << "no server socket for the client";
  return -1;
}

// The raw socket client lives in tests/support, shared by every C++ test.
using onsen::test::Ipv6Loopback;
using onsen::test::RawClient;
using onsen::test::UnixPath;

// What Server::start() throws for these options, "" when it starts (and is dropped).
inline std::string start_error(ServerOptions options, Handler handler) {
  Server s(std::move(options), std::move(handler));
  try {
    s.start();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace onsen::http::test
