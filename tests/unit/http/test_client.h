// Test helpers of the http layer's unit tests: a server running on a background thread, the
// raw socket client (tests/support/raw_client.h) and what a server's start() refuses.
#pragma once

#include <boost/beast/http.hpp>

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
