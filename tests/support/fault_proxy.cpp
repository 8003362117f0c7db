#include "support/fault_proxy.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <mutex>
#include <thread>

namespace onsen::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct FaultProxy::State {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::string upstream_host, upstream_port;
  std::atomic<int> failures_left{0}, failed{0}, forwarded{0};
  unsigned status = 503;
  std::string code;
  std::mutex mutex;
  std::list<tcp::socket> clients;
  std::list<std::thread> threads;
  std::thread acceptor_thread;

  void serve(tcp::socket& client) {
    boost::beast::flat_buffer buffer;
    boost::system::error_code ec;
    for (;;) {
      http::request<http::string_body> req;
      http::request_parser<http::string_body> parser;
      parser.body_limit(boost::none);
      http::read(client, buffer, parser, ec);
      if (ec) return;
      req = parser.release();
      http::response<http::string_body> res;
      if (failures_left.fetch_sub(1) > 0) {
        ++failed;
        res.result(status);
        res.version(11);
        res.set(http::field::content_type, "application/xml");
        res.body() = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                     "</Code><Message>injected</Message></Error>";
        res.keep_alive(true);
        res.prepare_payload();
      } else {
        ++forwarded;
        tcp::socket upstream(io);
        tcp::resolver resolver(io);
        asio::connect(upstream, resolver.resolve(upstream_host, upstream_port), ec);
        if (ec) return;
        http::write(upstream, req, ec);
        if (ec) return;
        boost::beast::flat_buffer upstream_buffer;
        http::response_parser<http::string_body> rp;
        rp.body_limit(boost::none);
        if (req.method() == http::verb::head) rp.skip(true);
        http::read(upstream, upstream_buffer, rp, ec);
        if (ec) return;
        res = rp.release();
        res.keep_alive(true);
      }
      http::write(client, res, ec);
      if (ec) return;
    }
  }
};

FaultProxy::FaultProxy(std::string upstream_url, int failures, unsigned status, std::string code)
    : state_(std::make_shared<State>()) {
  auto& s = *state_;
  std::string hostport = upstream_url.substr(upstream_url.find("://") + 3);
  s.upstream_host = hostport.substr(0, hostport.rfind(':'));
  s.upstream_port = hostport.substr(hostport.rfind(':') + 1);
  s.failures_left = failures;
  s.status = status;
  s.code = std::move(code);
  s.acceptor.open(tcp::v4());
  s.acceptor.set_option(tcp::acceptor::reuse_address(true));
  s.acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
  s.acceptor.listen();
  s.acceptor_thread = std::thread([st = state_] {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(st->io);
      st->acceptor.accept(socket, ec);
      if (ec) return;
      std::lock_guard lock(st->mutex);
      auto& client = st->clients.emplace_back(std::move(socket));
      st->threads.emplace_back([st, &client] { st->serve(client); });
    }
  });
}

FaultProxy::~FaultProxy() {
  auto& s = *state_;
  boost::system::error_code ec;
  // Shutting down wakes the blocked accept and reads; closing happens after the joins.
  ::shutdown(s.acceptor.native_handle(), SHUT_RDWR);
  s.acceptor_thread.join();
  std::lock_guard lock(s.mutex);
  for (auto& c : s.clients) c.shutdown(tcp::socket::shutdown_both, ec);
  for (auto& t : s.threads) t.join();
}

std::string FaultProxy::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(state_->acceptor.local_endpoint().port());
}
int FaultProxy::failed() const {
  return state_->failed;
}
int FaultProxy::forwarded() const {
  return state_->forwarded;
}

}  // namespace onsen::test
