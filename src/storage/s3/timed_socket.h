// A connected TCP socket as a synchronous stream (Beast's and Asio's SyncReadStream and
// SyncWriteStream, so TLS and the HTTP parser run over it unchanged) whose every read and write
// fails with asio::error::timed_out when the peer lets `idle` pass without moving a byte.
//
// Why not SO_RCVTIMEO / SO_SNDTIMEO: Asio's synchronous operations treat the EAGAIN they cause as
// "not ready yet" and wait in poll() without a timeout, so a gateway that accepts a connection
// and never answers held the calling thread forever. Why poll() here rather than
// beast::tcp_stream's expires_after (which notify::Poster uses): the S3 client is blocking by
// design (its callers run on the storage pool), shares pooled connections between threads and
// reads a blob's body straight into the caller's buffer; asynchronous operations would need an
// io_context per connection run around every call, where this is the very loop Asio's own
// blocking calls run (try, EAGAIN, poll, try again) with the poll bounded. The bound is per
// operation, not per request: a large body that keeps flowing is never cut for its size, only
// for a silence.
#pragma once

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>

namespace onsen::storage::s3 {

class TimedSocket {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;
  using lowest_layer_type = boost::asio::ip::tcp::socket::lowest_layer_type;

  // The socket must be in non-blocking mode (socket.non_blocking(true)): a read or write that
  // cannot go on at once then returns would_block to this class, which waits for it.
  TimedSocket(boost::asio::ip::tcp::socket& socket, std::chrono::milliseconds idle)
      : socket_(socket), idle_(idle) {}

  executor_type get_executor() { return socket_.get_executor(); }
  lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }

  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    return until_ready(
        POLL_IN, [&] { return socket_.read_some(buffers, ec); }, ec);
  }
  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
    return until_ready(
        POLL_OUT, [&] { return socket_.write_some(buffers, ec); }, ec);
  }
  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    boost::system::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  enum Direction { POLL_IN, POLL_OUT };

  template <typename Op>
  size_t until_ready(Direction direction, Op op, boost::system::error_code& ec) {
    const auto deadline = std::chrono::steady_clock::now() + idle_;
    for (;;) {
      size_t n = op();
      if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) return n;
      if (!wait(direction, deadline, ec)) return 0;
    }
  }
  // Waits until the socket is ready for `direction` (true), or sets ec to timed_out at the
  // deadline (or to poll()'s error) and returns false.
  bool wait(Direction direction, std::chrono::steady_clock::time_point deadline,
            boost::system::error_code& ec);

  boost::asio::ip::tcp::socket& socket_;
  std::chrono::milliseconds idle_;
};

}  // namespace onsen::storage::s3
