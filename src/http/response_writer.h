// Internal to the transport: writes a handler's Response on the connection: the head (wire.h),
// then the body by its kind: a string in one write with the head; a local file by sendfile over
// plain TCP (file_sender.h); a file over TLS, or a StreamBody, pulled piece by piece into the I/O
// buffer (over TLS, each piece sealed into records together with the head, tls_records.h; a file
// with the same unsent bound as over plain TCP, unsent_bound.h).
// Templated on the connection stream (see connection_stream.h).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core.hpp>

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "http/connection_stream.h"
#include "http/file_sender.h"
#include "http/message.h"
#include "http/tls_records.h"
#include "http/unsent_bound.h"
#include "http/wire.h"

namespace onsen::http::detail {

// An error response of the transport itself. Only for messages built from constants (no JSON
// escaping).
inline Response transport_error(unsigned status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  r.headers.add("Content-Type", "application/json; charset=utf-8");
  r.body = fmt::format(R"({{"errors":[{{"code":"{}","message":"{}"}}]}})", code, message);
  return r;
}

template <class Conn>
class ResponseWriter {
 public:
  // active_file_sends: the server's count of file bodies being sent (see unsent_bound.h).
  ResponseWriter(Conn& conn, std::atomic<unsigned>& active_file_sends)
      : conn_(conn), files_(conn, active_file_sends), tls_bound_(active_file_sends) {}

  // Writes res (version: the request's, 10 or 11; is_head: no body, but its Content-Length;
  // close: announce "Connection: close"). A body without a source becomes a 500. After a
  // failure the connection must be closed.
  boost::asio::awaitable<WriteResult> write(Response& res, unsigned version, bool is_head,
                                            bool close) {
    namespace net = boost::asio;
    uint64_t len = body_length(res);
    const bool send_body = !is_head && !status_has_no_body(res.status) && len > 0;
    if (send_body) {
      bool bad = false;
      if (auto* f = std::get_if<FileBody>(&res.body)) bad = f->fd < 0;
      if (auto* s = std::get_if<StreamBody>(&res.body)) bad = !s->read;
      if (bad) {
        spdlog::error("handler returned a {} body without a source", res.status);
        res = transport_error(500, "UNKNOWN", "internal error");
        len = body_length(res);
      }
    }
    build_head(res, version, is_head, close, len);
    if (!send_body) {
      auto ec = co_await conn_.write_all(net::buffer(head_));
      co_return WriteResult{!ec, 0};
    }
    if (auto* s = std::get_if<std::string>(&res.body)) {
      std::array<net::const_buffer, 2> bufs{net::buffer(head_), net::buffer(*s)};
      auto ec = co_await conn_.write_all(bufs);
      co_return WriteResult{!ec, ec ? 0 : s->size()};
    }
    if (auto* f = std::get_if<FileBody>(&res.body)) {
      if constexpr (!Conn::kTls) {
        co_return co_await files_.send(head_, *f);
      } else {
        // The pull function captures only plain values (res keeps the file open): g++ 12 can
        // destroy a by-value argument of a coroutine call twice, and a captured FileBody copy
        // then released its owner's shared_ptr once too often (heap use-after-free under ASan,
        // heap corruption in Release, with parallel TLS blob GETs).
        const int fd = f->fd;
        const uint64_t offset = f->offset;
        const ActiveSend counted(tls_bound_.sends());
        co_return co_await write_pulled(
            res, version, f->length,
            [fd, offset](char* buf, size_t n, uint64_t done) -> size_t {
              for (;;) {
                ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(offset + done));
                if (r >= 0) return static_cast<size_t>(r);
                if (errno != EINTR) {
                  throw std::runtime_error(std::string("pread: ") + std::strerror(errno));
                }
              }
            },
            &tls_bound_);
      }
    }
    auto& sb = std::get<StreamBody>(res.body);
    co_return co_await write_pulled(
        res, version, sb.length,
        [&sb](char* buf, size_t n, uint64_t) -> net::awaitable<size_t> { return sb.read(buf, n); });
  }

 private:
  void build_head(const Response& res, unsigned version, bool is_head, bool close,
                  uint64_t body_len) {
    HeadOptions h;
    h.status = res.status;
    h.version = version;
    h.close = close;
    h.keep_alive_10 = version == 10 && !close;
    if (!status_has_no_body(res.status)) {
      h.content_length = is_head ? res.head_length.value_or(body_len) : body_len;
    }
    head_.clear();
    if (size_t dropped = append_response_head(head_, h, res.headers, conn_.options.extra_headers)) {
      spdlog::warn("dropped {} invalid response header(s) for status {}", dropped, res.status);
    }
  }

  static uint64_t body_length(const Response& res) {
    if (auto* s = std::get_if<std::string>(&res.body)) return s->size();
    if (auto* f = std::get_if<FileBody>(&res.body)) return f->length;
    return std::get<StreamBody>(res.body).length;
  }

  // Writes a body pulled piece by piece into the I/O buffer. The first piece is pulled before
  // anything is written, so that a failing source still gets a proper 500. pull returns size_t
  // (a local file's pread, which the page cache answers) or an awaitable of it (StreamBody).
  // bound: a file body's unsent bound (unsent_bound.h), updated before each piece is written.
  template <class Pull>
  boost::asio::awaitable<WriteResult> write_pulled(Response& res, unsigned version, uint64_t length,
                                                   Pull pull, UnsentBound* bound = nullptr) {
    namespace net = boost::asio;
    char* buf = conn_.io_buffer();
    uint64_t done = 0;
    bool head_sent = false;
    while (done < length) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(length - done, kIoBufferSize));
      size_t n = 0;
      std::string error;
      try {
        if constexpr (std::is_same_v<decltype(pull(buf, want, done)), size_t>) {
          n = pull(buf, want, done);
        } else {
          n = co_await pull(buf, want, done);
        }
        if (n == 0 || n > want) error = "body source ended early";
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!error.empty()) {
        spdlog::error("response body failed after {} of {} bytes: {}", done, length, error);
        if (head_sent) co_return WriteResult{false, done};
        res = transport_error(500, "UNKNOWN", "internal error");
        build_head(res, version, false, true, body_length(res));
        const auto& s = std::get<std::string>(res.body);
        std::array<net::const_buffer, 2> bufs{net::buffer(head_), net::buffer(s)};
        auto ec = co_await conn_.write_all(bufs);
        (void)ec;
        co_return WriteResult{false, 0};  // closes the connection either way
      }
      boost::beast::error_code ec;
      if (bound) bound->update(conn_.lowest().socket().native_handle());
      if constexpr (Conn::kTls) {
        ec = co_await write_sealed(head_sent ? std::string_view() : std::string_view(head_),
                                   std::string_view(buf, n));
        head_sent = true;
      } else if (!head_sent) {
        std::array<net::const_buffer, 2> bufs{net::buffer(head_), net::buffer(buf, n)};
        ec = co_await conn_.write_all(bufs);
        head_sent = true;
      } else {
        ec = co_await conn_.write_all(net::buffer(buf, n));
      }
      if (ec) co_return WriteResult{false, done};
      done += n;
    }
    if constexpr (Conn::kTls) std::string().swap(sealed_);
    co_return WriteResult{true, done};
  }

  // TLS: encrypts head + body into one batch of records and writes it to the socket under the
  // TLS layer in one go (see tls_records.h); through the TLS stream when that is not possible.
  boost::asio::awaitable<boost::beast::error_code> write_sealed(std::string_view head,
                                                                std::string_view body) {
    namespace net = boost::asio;
    SSL* ssl = conn_.stream.native_handle();
    if (!can_seal(ssl)) {
      std::array<net::const_buffer, 2> bufs{net::buffer(head), net::buffer(body)};
      co_return co_await conn_.write_all(bufs);
    }
    sealed_.clear();
    const std::array<std::string_view, 2> pieces{head, body};
    if (!seal_records(ssl, pieces, sealed_)) {
      co_return boost::beast::error_code(static_cast<int>(boost::system::errc::protocol_error),
                                         boost::system::generic_category());
    }
    net::const_buffer rest = net::buffer(sealed_);
    while (rest.size() > 0) {
      conn_.lowest().expires_after(conn_.options.read_timeout);
      auto [ec, n] = co_await conn_.lowest().async_write_some(rest, kTuple);
      if (ec) co_return ec;
      rest += n;
    }
    co_return boost::beast::error_code{};
  }

  Conn& conn_;
  FileSender<Conn> files_;
  UnsentBound tls_bound_;  // TLS: a file body's unsent bound
  std::string head_;       // response head, reused
  std::string sealed_;     // TLS: records of the body piece being written
};

}  // namespace onsen::http::detail
