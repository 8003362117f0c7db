// Internal to the transport: the body of the request being served, read on the handler's demand
// (BodyReader): Content-Length or chunked, the "100 Continue" go-ahead on the first read, the
// minimum body rate, and draining what the handler left unread. Templated on the connection
// stream (see connection_stream.h).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <string_view>

#include "http/connection_stream.h"
#include "http/message.h"

namespace onsen::http::detail {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;

template <class Conn>
class RequestBodyReader final : public BodyReader {
 public:
  explicit RequestBodyReader(Conn& conn) : conn_(conn) {}

  // Starts the body of a request whose header parser has just read; expect_continue: the
  // client waits for "100 Continue" before sending it.
  void start(RequestParser& parser, bool expect_continue) {
    parser_ = &parser;
    chunked_ = parser.chunked();
    if (chunked_) {
      declared_length_.reset();
      remaining_ = 0;
    } else {
      auto cl = parser.content_length();
      remaining_ = cl ? *cl : 0;
      declared_length_ = remaining_;
    }
    failed_ = false;
    error_ = {};
    window_waited_ = {};
    window_bytes_ = 0;
    bytes_read_ = 0;
    continue_handled_ = false;
    continue_sent_ = false;
    expect_continue_ = expect_continue && !complete();
  }

  boost::asio::awaitable<size_t> read_some(char* buf, size_t n) override {
    return read_body(buf, n);
  }
  // Body bytes read so far, by the handler and by drain() (metrics).
  uint64_t bytes_read() const { return bytes_read_; }
  std::optional<uint64_t> content_length() const override { return declared_length_; }

  // The whole body has been read.
  bool complete() const { return chunked_ ? parser_->is_done() : remaining_ == 0; }
  // A read failed (broken or slow peer, bad chunk): the connection cannot be reused.
  bool failed() const { return failed_; }
  boost::beast::error_code error() const { return error_; }
  // The client still waits for our go-ahead: it has sent no body and will send none.
  bool client_still_waiting() const { return expect_continue_ && !continue_sent_; }

  // Reads and discards what the handler left of the body, up to kDrainLimit. False when the body
  // is larger or broken: the connection must then be closed.
  boost::asio::awaitable<bool> drain() {
    continue_handled_ = true;
    if (!chunked_ && remaining_ > kDrainLimit) co_return false;
    uint64_t total = 0;
    try {
      while (!complete()) {
        if (total > kDrainLimit) co_return false;
        size_t n = co_await read_body(conn_.io_buffer(), kIoBufferSize);
        if (n == 0) break;
        total += n;
      }
    } catch (const std::exception&) {
      co_return false;
    }
    co_return true;
  }

 private:
  static constexpr uint64_t kDrainLimit = 1 << 20;
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

  [[noreturn]] void fail(boost::beast::error_code ec) {
    failed_ = true;
    error_ = ec;
    throw boost::system::system_error(ec, "request body");
  }

  boost::asio::awaitable<size_t> read_body(char* buf, size_t n) {
    namespace net = boost::asio;
    namespace bhttp = boost::beast::http;
    if (failed_) fail(error_);
    if (n == 0 || complete()) co_return 0;
    if (!continue_handled_) {
      continue_handled_ = true;
      if (expect_continue_) {
        if (auto ec = co_await conn_.write_all(net::buffer(kContinue.data(), kContinue.size()))) {
          fail(ec);
        }
        continue_sent_ = true;
      }
    }
    auto& buffer = conn_.buffer;
    if (!chunked_) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
      if (buffer.size() > 0) {  // bytes read along with the header
        size_t k = net::buffer_copy(net::buffer(buf, want), buffer.data());
        buffer.consume(k);
        remaining_ -= k;
        bytes_read_ += k;
        co_return k;
      }
      const auto started = std::chrono::steady_clock::now();
      conn_.lowest().expires_after(read_timeout());
      auto [ec, k] = co_await conn_.stream.async_read_some(net::buffer(buf, want), kTuple);
      count_progress(std::chrono::steady_clock::now() - started, k);
      if (ec) fail(ec == net::error::eof ? bhttp::error::partial_message : ec);
      remaining_ -= k;
      bytes_read_ += k;
      co_return k;
    }
    for (;;) {
      auto& b = parser_->get().body();
      b.data = buf;
      b.size = n;
      b.more = true;
      const auto started = std::chrono::steady_clock::now();
      conn_.lowest().expires_after(read_timeout());
      auto [ec, unused] = co_await bhttp::async_read_some(conn_.stream, buffer, *parser_, kTuple);
      (void)unused;
      size_t got = n - parser_->get().body().size;
      parser_->get().body().data = nullptr;
      count_progress(std::chrono::steady_clock::now() - started, got);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) fail(ec);
      bytes_read_ += got;
      if (got > 0 || parser_->is_done()) co_return got;
    }
  }

  // Minimum body rate: a body must bring min_body_rate × read_timeout bytes (its quota) within
  // each read_timeout of time spent waiting for it; once it has, a new window starts. Only time
  // inside body reads counts, not the handler's own work between them (writing to disk). The
  // per-read timeout alone never ends a body that sends a byte just before each deadline.
  uint64_t quota() const {
    const auto& o = conn_.options;
    const auto seconds = static_cast<uint64_t>(o.read_timeout.count());
    if (o.min_body_rate == 0 || seconds == 0) return 0;
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    return o.min_body_rate > kMax / seconds ? kMax : o.min_body_rate * seconds;
  }

  // The deadline of the next read: read_timeout, or the end of the window when it comes first.
  std::chrono::steady_clock::duration read_timeout() const {
    std::chrono::steady_clock::duration limit = conn_.options.read_timeout;
    if (quota() == 0) return limit;
    return std::max<std::chrono::steady_clock::duration>(limit - window_waited_,
                                                         std::chrono::milliseconds(1));
  }

  void count_progress(std::chrono::steady_clock::duration waited, size_t got) {
    const uint64_t q = quota();
    if (q == 0) return;
    window_waited_ += waited;
    window_bytes_ += got;
    if (window_bytes_ >= q) {
      window_waited_ = {};
      window_bytes_ = 0;
    } else if (window_waited_ >= conn_.options.read_timeout) {
      spdlog::info("{}: request body slower than {} bytes/s ({} bytes in {} s): closing",
                   conn_.remote, conn_.options.min_body_rate, window_bytes_,
                   conn_.options.read_timeout.count());
      fail(boost::beast::error::timeout);
    }
  }

  Conn& conn_;
  RequestParser* parser_ = nullptr;
  bool chunked_ = false;
  uint64_t remaining_ = 0;  // Content-Length bodies: bytes not yet read
  std::optional<uint64_t> declared_length_;
  bool expect_continue_ = false;
  bool continue_handled_ = false;
  bool continue_sent_ = false;
  bool failed_ = false;
  boost::beast::error_code error_;
  std::chrono::steady_clock::duration window_waited_{};  // time waited in this rate window
  uint64_t window_bytes_ = 0;                            // and the bytes it brought
  uint64_t bytes_read_ = 0;                              // of this body, for bytes_read()
};

}  // namespace onsen::http::detail
