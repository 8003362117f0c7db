// Internal to the transport: a response whose body is a local file, over plain TCP: the head (sent
// with MSG_MORE so that it leaves with the first file bytes), then sendfile(2) from an explicit
// offset on the non-blocking socket, waiting for writability when the socket holds as many unsent
// bytes as it may (unsent_bound.h) or its buffer is full.
// Falls back to pread + write for a descriptor sendfile cannot read from.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>

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
#include "http/unsent_bound.h"

namespace onsen::http::detail {

// What a response writer reports: whether the whole response went out, and the body bytes sent.
struct WriteResult {
  bool ok = false;
  uint64_t bytes = 0;
};

template <class Conn>
class FileSender {
 public:
  // active_sends: the file bodies being sent by this connection's server (see UnsentBound).
  FileSender(Conn& conn, std::atomic<unsigned>& active_sends)
      : conn_(conn), bound_(active_sends), watchdog_(conn.stream.get_executor()) {}

  boost::asio::awaitable<WriteResult> send(std::string_view head, const FileBody& f) {
    namespace net = boost::asio;
    auto& sock = conn_.lowest().socket();
    boost::beast::error_code ec;
    if (!sock.native_non_blocking()) sock.native_non_blocking(true, ec);
    if (ec) co_return WriteResult{false, 0};
    const int out = sock.native_handle();
    const ActiveSend counted(bound_.sends());
    bound_.update(out);

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
          bound_.update(out);
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
  UnsentBound bound_;
  boost::asio::steady_timer watchdog_;
  std::shared_ptr<WaitState> wait_ = std::make_shared<WaitState>();
};

}  // namespace onsen::http::detail
