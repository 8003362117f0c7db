// Admission of TLS handshakes. A full handshake costs the server one private-key signature
// (RSA-4096: ~6.6 ms of CPU), computed on an I/O thread. Without a bound, a burst of new
// connections queues that many signatures on the I/O threads, and established connections wait
// behind all of them; Go clients (docker, containerd) abandon a dial as soon as another
// connection frees up, so most of such a burst is connections whose client has already left.
//
// So: at most `limit` handshakes sign at once, server-wide; the others wait here, each for at
// most its patience (read_timeout: no client waits longer), and the newest is admitted first
// (LIFO): under overload the clients who came first are the ones most likely to have given up
// (a Go client drops a dial as soon as another of its connections frees, and those it waited on
// longest free first), the newest is the one most likely still there, and serving it is what
// lets a burst of Go connections get established. Older waiters get their turn when the queue
// drains. A slot is
// asked for only when OpenSSL has parsed the whole ClientHello (hello_bytes_missing) and is about
// to sign (tls.h, attach_handshake_slot): a resumed handshake signs nothing and never queues here,
// and a slow client never holds a slot while the network is waited on. The slot is given back as
// soon as the server's first flight is built, not at the end of the handshake. Before a slot is
// used the session checks that its client is still there (peer_has_left).
//
// Thread safety: admit() and Slot::release() may run on any thread (a mutex guards the queue).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>

namespace onsen::http::detail {

class HandshakeGate {
 public:
  explicit HandshakeGate(size_t limit) : limit_(limit == 0 ? 1 : limit) {}
  HandshakeGate(const HandshakeGate&) = delete;
  HandshakeGate& operator=(const HandshakeGate&) = delete;

  // The right to run the expensive step of one handshake; empty when not admitted.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept
        : gate_(std::exchange(other.gate_, nullptr)), waited_(other.waited_) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        release();
        gate_ = std::exchange(other.gate_, nullptr);
        waited_ = other.waited_;
      }
      return *this;
    }
    ~Slot() { release(); }
    explicit operator bool() const { return gate_ != nullptr; }
    // It had to queue (its client may have left meanwhile).
    bool waited() const { return waited_; }
    // Gives the slot back (idempotent): the next waiter, if any, is admitted.
    void release();

   private:
    friend class HandshakeGate;
    Slot(HandshakeGate* gate, bool waited) : gate_(gate), waited_(waited) {}
    HandshakeGate* gate_ = nullptr;
    bool waited_ = false;
  };

  // One connection's place in the queue. Its timer runs on the session's executor; cancelling
  // it there (stop()) ends the wait without a slot.
  struct Waiter {
    explicit Waiter(const boost::asio::any_io_executor& exec) : timer(exec) {}
    boost::asio::steady_timer timer;
    bool granted = false;  // under the gate's mutex
  };

  // A slot at once when one is free and nobody queues, else when one frees and this is the
  // newest waiter; empty after `patience`, or when the waiter's timer is cancelled.
  boost::asio::awaitable<Slot> admit(std::shared_ptr<Waiter> waiter,
                                     std::chrono::steady_clock::duration patience);

  size_t in_progress() const;
  size_t waiting() const;

 private:
  void give_back();

  const size_t limit_;
  mutable std::mutex mu_;
  size_t in_progress_ = 0;
  std::deque<std::shared_ptr<Waiter>> queue_;
};

// Bytes still missing from the first TLS record (the ClientHello, which fits one record) at the
// start of `bytes`: read them before asking for a slot, so that a client sending its hello slowly
// holds none. 0 when the record is whole, or when the bytes are no TLS handshake record or claim
// an impossible length (OpenSSL then refuses them).
size_t hello_bytes_missing(std::string_view bytes);

// True when the peer of this connected socket has closed or reset it, as far as the kernel knows
// now (a non-blocking MSG_PEEK; bytes still unread do not count as gone).
bool peer_has_left(int fd);

}  // namespace onsen::http::detail
