// HandshakeGate: at most `limit` slots at once, the newest waiter admitted first, a waiter that
// runs out of patience or is cancelled leaves without a slot (and without losing one for the
// others); peer_has_left tells a closed peer from a quiet one; hello_bytes_missing reads a TLS
// record header.
#include "http/handshake_gate.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onsen::http::detail {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

// Runs one waiter: records its turn (or -1 when not admitted) and keeps the slot until told.
struct Client {
  std::shared_ptr<HandshakeGate::Waiter> waiter;
  std::optional<HandshakeGate::Slot> slot;
  bool done = false;
  bool admitted = false;
};

void spawn(net::io_context& io, HandshakeGate& gate, Client& c, std::vector<int>& order, int id,
           std::chrono::steady_clock::duration patience = 10s) {
  auto strand = net::make_strand(io);
  c.waiter = std::make_shared<HandshakeGate::Waiter>(strand);
  net::co_spawn(
      strand,
      [&, id, patience]() -> net::awaitable<void> {
        HandshakeGate::Slot s = co_await gate.admit(c.waiter, patience);
        c.admitted = static_cast<bool>(s);
        if (s) order.push_back(id);
        c.slot.emplace(std::move(s));
        c.done = true;
      },
      net::detached);
}

void run_until(net::io_context& io, const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!cond() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(5ms);
    io.restart();
  }
}

TEST(HandshakeGateTest, AdmitsUpToTheLimitThenTheNewestWaiterFirst) {
  net::io_context io;
  HandshakeGate gate(2);
  std::vector<Client> clients(5);
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) spawn(io, gate, clients[i], order, i);
  run_until(io, [&] { return gate.waiting() == 3; });
  EXPECT_EQ(order, (std::vector<int>{0, 1}));
  EXPECT_EQ(gate.in_progress(), 2u);
  EXPECT_FALSE(clients[0].slot->waited());

  clients[1].slot->release();
  run_until(io, [&] { return order.size() == 3; });
  clients[0].slot->release();
  clients[0].slot->release();  // idempotent: frees one slot, not two
  run_until(io, [&] { return order.size() == 4; });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 4, 3}));
  EXPECT_TRUE(clients[4].slot->waited());
  EXPECT_EQ(gate.in_progress(), 2u);
  EXPECT_EQ(gate.waiting(), 1u);

  for (auto& c : clients) c.slot.reset();  // 4 and 3 give back: 2 gets one, then gives it back
  run_until(io, [&] { return clients[2].done; });
  clients[2].slot.reset();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 4, 3, 2}));
  EXPECT_EQ(gate.in_progress(), 0u);
  EXPECT_EQ(gate.waiting(), 0u);
}

TEST(HandshakeGateTest, AWaiterOutOfPatienceOrCancelledLeavesWithoutASlot) {
  net::io_context io;
  HandshakeGate gate(1);
  std::vector<Client> clients(4);
  std::vector<int> order;
  spawn(io, gate, clients[0], order, 0);
  spawn(io, gate, clients[1], order, 1, 20ms);  // gives up
  spawn(io, gate, clients[2], order, 2);        // cancelled, as stop() does
  spawn(io, gate, clients[3], order, 3);
  run_until(io, [&] { return clients[1].done && gate.waiting() == 2; });
  EXPECT_FALSE(clients[1].admitted);
  net::post(clients[2].waiter->timer.get_executor(), [&] { clients[2].waiter->timer.cancel(); });
  run_until(io, [&] { return clients[2].done; });
  EXPECT_FALSE(clients[2].admitted);
  EXPECT_EQ(gate.waiting(), 1u);

  clients[0].slot.reset();
  run_until(io, [&] { return clients[3].done; });
  EXPECT_TRUE(clients[3].admitted);
  EXPECT_EQ(order, (std::vector<int>{0, 3}));
  clients[3].slot.reset();
  EXPECT_EQ(gate.in_progress(), 0u);
}

TEST(PeerHasLeftTest, TellsAClosedPeerFromAQuietOne) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  EXPECT_FALSE(peer_has_left(fds[0]));  // nothing sent: still there
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  EXPECT_FALSE(peer_has_left(fds[0]));  // unread bytes: still there
  char c;
  ASSERT_EQ(::read(fds[0], &c, 1), 1);
  ::close(fds[1]);
  EXPECT_TRUE(peer_has_left(fds[0]));
  ::close(fds[0]);
}

TEST(HelloBytesMissingTest, CountsWhatTheFirstRecordLacks) {
  using namespace std::string_literals;
  const std::string header = "\x16\x03\x01\x01\x00"s;  // a handshake record of 256 bytes
  EXPECT_EQ(hello_bytes_missing(""), 0u);
  EXPECT_EQ(hello_bytes_missing("\x16\x03"s), 3u);  // the header first
  EXPECT_EQ(hello_bytes_missing(header), 256u);
  EXPECT_EQ(hello_bytes_missing(header + std::string(200, 'x')), 56u);
  EXPECT_EQ(hello_bytes_missing(header + std::string(256, 'x')), 0u);
  EXPECT_EQ(hello_bytes_missing(header + std::string(300, 'x')), 0u);  // more: not ours to judge
  EXPECT_EQ(hello_bytes_missing("\x15\x03\x01\x00\x02"s), 0u);         // not a handshake record
  EXPECT_EQ(hello_bytes_missing("\x16\x03\x01\xff\xff"s), 0u);         // longer than TLS allows
}

}  // namespace
}  // namespace onsen::http::detail
