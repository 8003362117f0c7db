// HandshakeGate and peer_has_left (see handshake_gate.h).
#include "http/handshake_gate.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace onsen::http::detail {

namespace net = boost::asio;

void HandshakeGate::Slot::release() {
  if (auto* gate = std::exchange(gate_, nullptr)) gate->give_back();
}

net::awaitable<HandshakeGate::Slot> HandshakeGate::admit(
    std::shared_ptr<Waiter> waiter, std::chrono::steady_clock::duration patience) {
  {
    std::lock_guard lock(mu_);
    if (in_progress_ < limit_ && queue_.empty()) {
      ++in_progress_;
      co_return Slot(this, false);
    }
    waiter->timer.expires_after(patience);
    queue_.push_back(waiter);
  }
  // Woken by give_back() (which cancels the timer), by the patience running out, or by the
  // session cancelling the timer; only `granted` says which.
  co_await waiter->timer.async_wait(net::as_tuple(net::use_awaitable));
  std::lock_guard lock(mu_);
  if (waiter->granted) co_return Slot(this, true);
  auto it = std::find(queue_.begin(), queue_.end(), waiter);
  if (it != queue_.end()) queue_.erase(it);
  co_return Slot();
}

void HandshakeGate::give_back() {
  std::shared_ptr<Waiter> next;
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) {
      --in_progress_;
      return;
    }
    // The slot passes to the newest waiter (see handshake_gate.h): in_progress_ stays.
    next = std::move(queue_.back());
    queue_.pop_back();
    next->granted = true;
  }
  // The timer belongs to the waiter's session strand: cancel it there. The waiter may be awake
  // already (its patience ran out just now): it sees `granted` and takes the slot all the same.
  auto exec = next->timer.get_executor();
  net::post(exec, [next = std::move(next)] { next->timer.cancel(); });
}

size_t HandshakeGate::in_progress() const {
  std::lock_guard lock(mu_);
  return in_progress_;
}

size_t HandshakeGate::waiting() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t hello_bytes_missing(std::string_view bytes) {
  constexpr size_t kHeader = 5;         // type, version (2), length (2)
  constexpr size_t kMaxRecord = 16384;  // a plaintext record's limit
  if (bytes.empty() || static_cast<unsigned char>(bytes[0]) != 0x16) return 0;
  if (bytes.size() < kHeader) return kHeader - bytes.size();
  const size_t length =
      (static_cast<unsigned char>(bytes[3]) << 8) | static_cast<unsigned char>(bytes[4]);
  if (length > kMaxRecord) return 0;
  return bytes.size() >= kHeader + length ? 0 : kHeader + length - bytes.size();
}

bool peer_has_left(int fd) {
  char byte;
  for (;;) {
    ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return false;
    if (n == 0) return true;  // orderly close (FIN)
    if (errno == EINTR) continue;
    return errno != EAGAIN && errno != EWOULDBLOCK;  // reset, or the socket is broken
  }
}

}  // namespace onsen::http::detail
