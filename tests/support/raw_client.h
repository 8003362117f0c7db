// The one connection every C++ test talks HTTP over: a blocking socket to a loopback TCP address
// (IPv4 or IPv6) or a unix socket, with receive and send timeouts so that a broken server fails a
// test instead of hanging it. It sends bytes exactly as given and parses what comes back one
// response at a time (Boost.Beast's parser), so a test controls every byte on the wire, can
// pipeline, and can watch how the server closes (tests/unit/http). HttpClient (http_client.h) is
// the request-level layer over it that the end-to-end tests use.
#pragma once

#include <boost/beast/http.hpp>

#include <chrono>
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

// A failed connect, send or receive. peer_closed: the server closed or reset the connection
// (as opposed to a timeout or a malformed response), which a client may retry on a new one.
class ConnectionError : public std::runtime_error {
 public:
  ConnectionError(const std::string& what, bool peer_closed)
      : std::runtime_error(what), peer_closed(peer_closed) {}
  bool peer_closed;
};

class RawClient {
 public:
  explicit RawClient(unsigned short port,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));
  explicit RawClient(const Ipv6Loopback& where,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));
  explicit RawClient(const UnixPath& where,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // A numeric IPv4 or IPv6 address.
  RawClient(const std::string& ip, unsigned short port, std::chrono::milliseconds timeout);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Throws ConnectionError.
  void send(std::string_view s);

  // Reads one response (an interim 1xx is one too). head: the request was HEAD (no body follows
  // the header). Throws ConnectionError.
  RawResponse read_response(bool head = false);

  // Reads everything until the server closes (or the timeout hits: returns what came).
  std::string read_until_close();

  // True when the server closed the connection (EOF or reset) before the receive timeout, with
  // no further data.
  bool closed_by_peer();

  int fd() const { return fd_; }

 private:
  // A socket of the address's family, with the timeouts, connected to it.
  void connect(const void* sockaddr, unsigned len, std::chrono::milliseconds timeout);

  int fd_ = -1;
  std::string pending_;  // received bytes not parsed yet (the start of the next response)
};

}  // namespace onsen::test
