// A raw blocking socket client over TCP (IPv4 or IPv6 loopback) or a unix socket, with receive
// and send timeouts so that a broken server fails a test instead of hanging it. For the tests that
// control every byte on the wire and watch how the server closes (tests/unit/http); request-level
// tests use HttpClient (http_client.h).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace onsen::test {

namespace bhttp = boost::beast::http;
using RawResponse = bhttp::response<bhttp::string_body>;

// Where a RawClient connects to besides 127.0.0.1:port.
struct UnixPath {
  std::string path;  // "@name": abstract namespace
};
struct Ipv6Loopback {
  unsigned short port;  // [::1]:port
};

class RawClient {
 public:
  explicit RawClient(unsigned short port,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(sa, sizeof sa, timeout);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  explicit RawClient(const Ipv6Loopback& where,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(where.port);
    sa.sin6_addr = in6addr_loopback;
    connect(sa, sizeof sa, timeout);
  }
  explicit RawClient(const UnixPath& where,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (where.path.size() >= sizeof sa.sun_path) throw std::runtime_error("path too long");
    std::memcpy(sa.sun_path, where.path.data(), where.path.size());
    if (!where.path.empty() && where.path[0] == '@') sa.sun_path[0] = '\0';
    connect(sa,
            static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + where.path.size() +
                                   (where.path[0] == '@' ? 0 : 1)),
            timeout);
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("send: ") + std::strerror(errno));
      }
      s.remove_prefix(static_cast<size_t>(n));
    }
  }

  // Reads one response. head: the request was HEAD (no body follows the header).
  RawResponse read_response(bool head = false) {
    bhttp::response_parser<bhttp::string_body> p;
    p.eager(true);
    p.body_limit(boost::none);
    if (head) p.skip(true);
    for (;;) {
      if (!pending_.empty()) {
        boost::beast::error_code ec;
        size_t used = p.put(boost::asio::buffer(pending_), ec);
        if (ec == bhttp::error::need_more) ec = {};
        if (ec) throw std::runtime_error("bad response: " + ec.message());
        pending_.erase(0, used);
        if (p.is_done()) return p.release();
        if (used > 0) continue;
      }
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
      if (n == 0) {
        boost::beast::error_code ec;
        p.put_eof(ec);
        if (!ec && p.is_done()) return p.release();
        throw std::runtime_error("connection closed before a full response");
      }
      pending_.append(buf, static_cast<size_t>(n));
    }
  }

  // Reads everything until the server closes (or the timeout hits: returns what came).
  std::string read_until_close() {
    std::string out = std::move(pending_);
    pending_.clear();
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  // True when the server closed the connection (EOF or reset) before the receive timeout, with
  // no further data.
  bool closed_by_peer() {
    if (!pending_.empty()) return false;
    char c;
    for (;;) {
      ssize_t n = ::recv(fd_, &c, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      return false;
    }
  }

  int fd() const { return fd_; }

 private:
  // A socket of the address's family, with the timeouts, connected to it.
  template <typename SockAddr>
  void connect(const SockAddr& sa, socklen_t len, std::chrono::milliseconds timeout) {
    fd_ = ::socket(reinterpret_cast<const sockaddr&>(sa).sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
      int err = errno;
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error(std::string("connect failed: ") + std::strerror(err));
    }
  }

  int fd_ = -1;
  std::string pending_;
};

}  // namespace onsen::test
