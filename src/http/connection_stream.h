// Internal to the transport: the byte stream of one connection, as the session, its request-body
// reader and its response writers share it: the plain or TLS stream over a TCP or unix-domain
// socket, the read-ahead buffer, the deadline of each step, and a write of whole buffers.
// Templated on the protocol and on TLS, like the session that owns it.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "http/server.h"

namespace onsen::http::detail {

// Completion token of every socket operation here: errors come back as values, not exceptions.
inline constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// The scratch buffer for draining, TLS file bodies and stream bodies.
inline constexpr size_t kIoBufferSize = 256 * 1024;

template <class Protocol, bool Tls>
class ConnectionStream {
 public:
  static constexpr bool kTls = Tls;
  using Socket = typename Protocol::socket;
  using Plain = boost::beast::basic_stream<Protocol, boost::asio::any_io_executor,
                                           boost::beast::unlimited_rate_policy>;
  using Stream = std::conditional_t<Tls, boost::beast::ssl_stream<Plain>, Plain>;

  // tls: this connection's TLS context (TLS only; the caller keeps it alive).
  ConnectionStream(Socket&& socket, boost::asio::ssl::context* tls, const ServerOptions& options,
                   std::string remote)
      : options(options), remote(std::move(remote)), stream(make_stream(tls, std::move(socket))) {}

  const ServerOptions& options;
  const std::string remote;          // the peer as logs print it
  Stream stream;                     // where requests are read and responses written
  boost::beast::flat_buffer buffer;  // bytes read ahead of what has been parsed

  // The TCP or unix-domain stream under TLS (the stream itself without TLS): deadlines are set
  // on it, and bytes already encrypted are written to it.
  Plain& lowest() { return boost::beast::get_lowest_layer(stream); }

  // kIoBufferSize bytes, allocated on first use: most connections never need them.
  char* io_buffer() {
    if (!io_buf_) io_buf_ = std::make_unique<char[]>(kIoBufferSize);
    return io_buf_.get();
  }

  // Writes all of buffers, each step within read_timeout.
  template <class Buffers>
  boost::asio::awaitable<boost::beast::error_code> write_all(const Buffers& buffers) {
    boost::beast::buffers_suffix<Buffers> rest(buffers);
    while (boost::beast::buffer_bytes(rest) > 0) {
      lowest().expires_after(options.read_timeout);
      auto [ec, n] = co_await stream.async_write_some(rest, kTuple);
      if (ec) co_return ec;
      rest.consume(n);
    }
    co_return boost::beast::error_code{};
  }

 private:
  static Stream make_stream(boost::asio::ssl::context* tls, Socket&& socket) {
    if constexpr (Tls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  std::unique_ptr<char[]> io_buf_;
};

}  // namespace onsen::http::detail
