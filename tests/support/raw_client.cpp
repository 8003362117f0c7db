#include "support/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace onsen::test {

namespace {

// A ConnectionError for the errno a socket call left.
ConnectionError os_error(const char* what, int err) {
  return ConnectionError(std::string(what) + ": " + std::strerror(err),
                         err == ECONNRESET || err == EPIPE);
}

}  // namespace

RawClient::RawClient(unsigned short port, std::chrono::milliseconds timeout)
    : RawClient("127.0.0.1", port, timeout) {}

RawClient::RawClient(const Ipv6Loopback& where, std::chrono::milliseconds timeout)
    : RawClient("::1", where.port, timeout) {}

RawClient::RawClient(const std::string& ip, unsigned short port,
                     std::chrono::milliseconds timeout) {
  sockaddr_in sa4{};
  sockaddr_in6 sa6{};
  if (::inet_pton(AF_INET, ip.c_str(), &sa4.sin_addr) == 1) {
    sa4.sin_family = AF_INET;
    sa4.sin_port = htons(port);
    connect(&sa4, sizeof sa4, timeout);
  } else if (::inet_pton(AF_INET6, ip.c_str(), &sa6.sin6_addr) == 1) {
    sa6.sin6_family = AF_INET6;
    sa6.sin6_port = htons(port);
    connect(&sa6, sizeof sa6, timeout);
  } else {
    throw std::runtime_error("not a numeric IP address: " + ip);
  }
  // Small requests go out at once (the tests measure behaviour, not Nagle's delays).
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawClient::RawClient(const UnixPath& where, std::chrono::milliseconds timeout) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (where.path.size() >= sizeof sa.sun_path) throw std::runtime_error("path too long");
  std::memcpy(sa.sun_path, where.path.data(), where.path.size());
  const bool abstract = !where.path.empty() && where.path[0] == '@';
  if (abstract) sa.sun_path[0] = '\0';
  connect(&sa, offsetof(sockaddr_un, sun_path) + where.path.size() + (abstract ? 0 : 1), timeout);
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

void RawClient::connect(const void* sa, unsigned len, std::chrono::milliseconds timeout) {
  const auto* addr = static_cast<const sockaddr*>(sa);
  fd_ = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw os_error("socket", errno);
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd_, addr, len) != 0) {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw os_error("connect failed", err);
  }
}

void RawClient::send(std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw os_error("send", errno);
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
}

RawResponse RawClient::read_response(bool head) {
  bhttp::response_parser<bhttp::string_body> p;
  p.eager(true);
  p.body_limit(boost::none);
  p.header_limit(64 * 1024);  // registries send long Link and WWW-Authenticate headers
  if (head) p.skip(true);
  for (;;) {
    if (!pending_.empty()) {
      boost::beast::error_code ec;
      size_t used = p.put(boost::asio::buffer(pending_), ec);
      if (ec == bhttp::error::need_more) ec = {};
      if (ec) throw ConnectionError("bad response: " + ec.message(), false);
      pending_.erase(0, used);
      if (p.is_done()) return p.release();
      if (used > 0) continue;
    }
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw os_error("recv", errno);
    if (n == 0) {
      boost::beast::error_code ec;
      p.put_eof(ec);
      if (!ec && p.is_done()) return p.release();
      throw ConnectionError("connection closed before a full response", true);
    }
    pending_.append(buf, static_cast<size_t>(n));
  }
}

std::string RawClient::read_until_close() {
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

bool RawClient::closed_by_peer() {
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

}  // namespace onsen::test
