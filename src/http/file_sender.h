// Internal to the transport: a response whose body is a local file, over plain TCP: the head (sent
// with MSG_MORE so that it leaves with the first file bytes), then sendfile(2) from an explicit
// offset on the non-blocking socket, waiting for writability when the socket holds as many unsent
// bytes as it may (kNotSentLowat) or its buffer is full.
// Falls back to pread + write for a descriptor sendfile cannot read from.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>

#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "http/connection_stream.h"
#include "http/message.h"

namespace onsen::http::detail {

// What a response writer reports: whether the whole response went out, and the body bytes sent.
struct WriteResult {
  bool ok = false;
  uint64_t bytes = 0;
};

// Counts a file body being sent in `sends` (a server's, all its connections together: see
// FileSender's kBoundWhileSendsAtMost) for its lifetime.
class ActiveSend {
 public:
  explicit ActiveSend(std::atomic<unsigned>& sends) : sends_(sends) {
    sends_.fetch_add(1, std::memory_order_relaxed);
  }
  ~ActiveSend() { sends_.fetch_sub(1, std::memory_order_relaxed); }
  ActiveSend(const ActiveSend&) = delete;
  ActiveSend& operator=(const ActiveSend&) = delete;

 private:
  std::atomic<unsigned>& sends_;
};

template <class Conn>
class FileSender {
 public:
  // active_sends: the file bodies being sent by this connection's server (ServerContext), which
  // decides whether the unsent bound applies; it outlives the sender.
  FileSender(Conn& conn, std::atomic<unsigned>& active_sends)
      : conn_(conn), active_sends_(active_sends), watchdog_(conn.stream.get_executor()) {}

  boost::asio::awaitable<WriteResult> send(std::string_view head, const FileBody& f) {
    namespace net = boost::asio;
    auto& sock = conn_.lowest().socket();
    boost::beast::error_code ec;
    if (!sock.native_non_blocking()) sock.native_non_blocking(true, ec);
    if (ec) co_return WriteResult{false, 0};
    const int out = sock.native_handle();
    const ActiveSend counted(active_sends_);
    bound_unsent(out);

    size_t head_done = 0;
    while (head_done < head.size()) {
      ssize_t n =
          ::send(out, head.data() + head_done, head.size() - head_done, MSG_MORE | MSG_NOSIGNAL);
      if (n >= 0) {
        head_done += static_cast<size_t>(n);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ec =
            co_await conn_.write_all(net::buffer(head.data() + head_done, head.size() - head_done));
        if (ec) co_return WriteResult{false, 0};
        break;
      }
      co_return WriteResult{false, 0};
    }

    off_t offset = static_cast<off_t>(f.offset);
    uint64_t left = f.length;
    uint64_t since_yield = 0;
    while (left > 0) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, kSendfileChunk));
      ssize_t n = ::sendfile(out, f.fd, &offset, chunk);
      if (n > 0) {
        left -= static_cast<uint64_t>(n);
        since_yield += static_cast<uint64_t>(n);
        if (left == 0) break;
        if (static_cast<size_t>(n) < chunk) {
          // The socket took what it had room for: wait for room rather than ask again, as a
          // sendfile that finds no room still reads file pages before it fails with EAGAIN.
          since_yield = 0;
          bound_unsent(out);
          if (co_await wait_writable()) co_return WriteResult{false, f.length - left};
        } else if (since_yield >= kYieldEvery) {
          since_yield = 0;
          co_await net::post(conn_.stream.get_executor(), net::use_awaitable);
        }
        continue;
      }
      if (n == 0) {
        spdlog::error("sendfile: file ended {} bytes before the announced length", left);
        co_return WriteResult{false, f.length - left};
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        since_yield = 0;
        if (co_await wait_writable()) co_return WriteResult{false, f.length - left};
        continue;
      }
      if ((errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) && left == f.length) {
        // A descriptor sendfile cannot read from: copy through user space instead.
        co_return co_await pread_rest(f);
      }
      spdlog::debug("{}: sendfile: {}", conn_.remote, std::strerror(errno));
      co_return WriteResult{false, f.length - left};
    }
    co_return WriteResult{true, f.length};
  }

 private:
  static constexpr size_t kSendfileChunk = 4 << 20;  // per sendfile(2) call
  static constexpr uint64_t kYieldEvery = 16 << 20;  // bytes sent before letting others run
  // Bytes the socket may hold that TCP has not sent yet (TCP_NOTSENT_LOWAT); sendfile stops and
  // writability waits above it. Without a bound the socket takes up to its whole send buffer
  // (4 MiB here) ahead of the receiver's window, and it is then the receiver's window updates
  // that send it: over loopback (a local client, a container on the host) the client's CPU does
  // the server's TCP work, and a 1 GiB pull took 0.16 s of server CPU and 0.55 s of client CPU,
  // half registry:2's rate. With 64 KiB (one loopback segment) the server sends from its own
  // wake-ups: ~0.25 s each. Larger bounds (96 KiB and up) measured as badly as none. It bounds
  // only unsent bytes, not those in flight, so long fat links are not limited by it.
  // Only while a single file body is being sent: with several, every core is busy anyway and
  // the extra wake-ups cost more than moving the work gains (4 parallel 1 GiB pulls: 2.5 GB/s
  // bounded, 2.9 unbounded).
  static constexpr int kNotSentLowat = 64 << 10;
  static constexpr unsigned kBoundWhileSendsAtMost = 1;

  // Sets or lifts the unsent bound as the number of sends in progress asks (0: the system's
  // default, no bound). A failure (a unix-domain socket has no unsent queue) changes nothing.
  void bound_unsent(int out) {
    const bool want = active_sends_.load(std::memory_order_relaxed) <= kBoundWhileSendsAtMost;
    if (want == bounded_) return;
    bounded_ = want;
    const int value = want ? kNotSentLowat : 0;
    ::setsockopt(out, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &value, sizeof value);
  }

  // The watchdog is armed when a wait begins and no earlier expiry is pending, and is not
  // cancelled when the wait ends: a pull waits for room thousands of times per second, and
  // setting and cancelling a timer each time cost more than the wait itself. When it fires it
  // checks the wait in progress, if any: over read_timeout, the socket is cancelled; otherwise it
  // is armed again for that wait's deadline. Its handler holds this state, as it may run after
  // the sender is gone; it touches the sender (timer, socket) only while a wait is in progress,
  // when the session is alive.
  struct WaitState {
    bool waiting = false;
    bool armed = false;
    bool timed_out = false;
    std::chrono::steady_clock::time_point since;
  };

  // The whole file body, head already sent, through pread and ordinary writes.
  boost::asio::awaitable<WriteResult> pread_rest(const FileBody& f) {
    char* buf = conn_.io_buffer();
    uint64_t done = 0;
    while (done < f.length) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(f.length - done, kIoBufferSize));
      ssize_t n = ::pread(f.fd, buf, want, static_cast<off_t>(f.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        spdlog::error("pread: {}", n == 0 ? "file shorter than announced" : std::strerror(errno));
        co_return WriteResult{false, done};
      }
      if (co_await conn_.write_all(boost::asio::buffer(buf, static_cast<size_t>(n)))) {
        co_return WriteResult{false, done};
      }
      done += static_cast<uint64_t>(n);
    }
    co_return WriteResult{true, done};
  }

  // Waits until the socket is writable, at most read_timeout.
  boost::asio::awaitable<boost::beast::error_code> wait_writable() {
    auto& sock = conn_.lowest().socket();
    wait_->waiting = true;
    wait_->timed_out = false;
    wait_->since = std::chrono::steady_clock::now();
    if (!wait_->armed) arm(wait_->since + conn_.options.read_timeout);
    auto [ec] = co_await sock.async_wait(boost::asio::socket_base::wait_write, kTuple);
    wait_->waiting = false;
    if (wait_->timed_out) co_return boost::beast::error_code(boost::beast::error::timeout);
    co_return ec;
  }

  void arm(std::chrono::steady_clock::time_point deadline) {
    wait_->armed = true;
    watchdog_.expires_at(deadline);
    watchdog_.async_wait([state = wait_, this](boost::beast::error_code ec) {
      if (ec) return;  // the sender is gone
      state->armed = false;
      if (!state->waiting) return;
      const auto deadline = state->since + conn_.options.read_timeout;
      if (std::chrono::steady_clock::now() < deadline) {
        arm(deadline);
        return;
      }
      state->timed_out = true;
      boost::beast::error_code ignored;
      conn_.lowest().socket().cancel(ignored);
    });
  }

  Conn& conn_;
  std::atomic<unsigned>& active_sends_;
  boost::asio::steady_timer watchdog_;
  bool bounded_ = false;  // TCP_NOTSENT_LOWAT set (a new socket has no bound)
  std::shared_ptr<WaitState> wait_ = std::make_shared<WaitState>();
};

}  // namespace onsen::http::detail
