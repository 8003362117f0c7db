// Which TLS handshakes queue for a handshake slot (handshake_gate.h): a full handshake waits for
// one before it signs; a resumed one signs nothing and does not wait, even when every slot is
// taken and full handshakes are queued. The sessions are the server's own (start_session), behind
// a gate whose only slot the test holds.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "http/handshake_gate.h"
#include "http/server_context.h"
#include "http/session.h"
#include "http/tls.h"
#include "tls_util.h"

namespace onsen::http::detail {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using tcp = net::ip::tcp;
using test::SelfSigned;
using test::TlsClient;
using test::TlsClientOptions;

// TLS sessions on 127.0.0.1 behind a gate of one slot; every request gets 200.
class GatedTlsServer {
 public:
  explicit GatedTlsServer(const SelfSigned& cert)
      : ctx_(std::make_shared<ServerContext>()),
        acceptor_(io_, {net::ip::address_v4::loopback(), 0}) {
    ctx_->options = test::tls_options(cert);
    ctx_->options.read_timeout = 3s;  // a handshake queued by mistake fails within this
    ctx_->handler = [](Request&) -> net::awaitable<Response> { co_return Response{}; };
    ctx_->set_tls_context(make_tls_context(ctx_->options, &ctx_->tls_stats));
    ctx_->handshakes = std::make_unique<HandshakeGate>(1);
    ctx_->tls = true;
    net::co_spawn(io_, accept_loop(), net::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  // The sessions still open end with the io_context (their coroutines are destroyed with it).
  ~GatedTlsServer() {
    ctx_->stopping = true;
    io_.stop();
    thread_.join();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  HandshakeGate& gate() { return *ctx_->handshakes; }
  const TlsStats& stats() const { return ctx_->tls_stats; }

  // Takes the gate's only slot (it is free) and keeps it until release_slot().
  void hold_slot() {
    auto waiter = std::make_shared<HandshakeGate::Waiter>(io_.get_executor());
    held_.emplace(net::co_spawn(io_, gate().admit(waiter, 10s), net::use_future).get());
  }
  void release_slot() {
    net::post(io_, net::use_future([this] { held_.reset(); })).get();
  }

 private:
  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] =
          co_await acceptor_.async_accept(net::make_strand(io_), net::as_tuple(net::use_awaitable));
      if (ec) co_return;
      start_session(ctx_, std::move(socket));
    }
  }

  std::shared_ptr<ServerContext> ctx_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::optional<HandshakeGate::Slot> held_;
};

bool wait_for(const std::function<bool()>& cond) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!cond() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  return cond();
}

TEST(TlsHandshakeAdmissionTest, AResumedHandshakeDoesNotQueueBehindFullOnes) {
  SelfSigned cert;
  GatedTlsServer srv(cert);
  // One session of each version to resume later (two full handshakes, the gate free). The
  // connections stay open: a client closed without a TLS shutdown cannot resume its session.
  std::shared_ptr<SSL_SESSION> sessions[2];
  std::unique_ptr<TlsClient> first[2];
  const int versions[2] = {TLS1_2_VERSION, TLS1_3_VERSION};
  for (int i = 0; i < 2; ++i) {
    first[i] = std::make_unique<TlsClient>(
        srv.port(), TlsClientOptions{&cert, nullptr, versions[i], {}, {}, nullptr});
    ASSERT_EQ(first[i]->request("GET", "/").result_int(), 200);
    sessions[i] = first[i]->session();
  }
  ASSERT_EQ(srv.stats().signatures.load(), 2u);

  // The only slot is taken, and a full handshake queues behind it.
  srv.hold_slot();
  auto full = std::async(std::launch::async, [&] {
    TlsClient c(srv.port(), cert);
    return c.request("GET", "/").result_int();
  });
  ASSERT_TRUE(wait_for([&] { return srv.gate().waiting() == 1; }));

  // Returning clients are served meanwhile: no slot, no signature.
  for (int i = 0; i < 2; ++i) {
    TlsClient c(srv.port(),
                TlsClientOptions{&cert, nullptr, versions[i], {}, {}, sessions[i].get()});
    EXPECT_TRUE(c.resumed()) << "TLS version " << versions[i];
    EXPECT_EQ(c.request("GET", "/").result_int(), 200);
  }
  EXPECT_EQ(srv.stats().resumed.load(), 2u);
  EXPECT_EQ(srv.stats().signatures.load(), 2u);
  EXPECT_EQ(srv.gate().waiting(), 1u);  // the full handshake still waits

  // Its turn comes with the slot.
  srv.release_slot();
  EXPECT_EQ(full.get(), 200);
  EXPECT_EQ(srv.stats().signatures.load(), 3u);
  EXPECT_EQ(srv.stats().client_gone.load() + srv.stats().gave_up.load(), 0u);
}

}  // namespace
}  // namespace onsen::http::detail
