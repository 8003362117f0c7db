// Request and response types shared by the transport (http/) and the API layer (api/).
// The transport owns the connection; the API layer sees only these types.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace onsen::http {

// Case-insensitive header list; a response may repeat a name.
class Headers {
 public:
  // First value of a header, case-insensitive name; nullopt when absent.
  std::optional<std::string_view> get(std::string_view name) const;
  void add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every value of name by one.
  void set(std::string name, std::string value);
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Pull-style reader of the request body, decoded (chunked transfer coding removed). The first read
// answers an "Expect: 100-continue" with "100 Continue". A handler that does not read the whole
// body leaves it to the transport, which drains a little or closes the connection.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Reads up to n bytes into buf; 0 at the end of the body. Throws on a broken or timed-out peer.
  virtual boost::asio::awaitable<size_t> read_some(char* buf, size_t n) = 0;
  // Declared Content-Length; nullopt for chunked bodies.
  virtual std::optional<uint64_t> content_length() const = 0;
};

// The other end of a connection, as the transport knows it (not parsed back from text).
struct Peer {
  // The IP address without brackets or port: "127.0.0.1" (IPv4 clients of a dual-stack "[::]"
  // listener too), "::1", "fe80::1%eth0"; "" over a unix socket.
  std::string address;
  uint16_t port = 0;  // 0 over a unix socket

  bool unix_socket() const { return address.empty(); }
  // For logs: "127.0.0.1:51234", "[::1]:51234", or "unix".
  std::string to_string() const;
};

struct Request {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // raw request-target: path and query, not decoded
  std::string path;    // target before '?', not decoded
  std::string query;   // target after '?', without it, not decoded
  Headers headers;
  // The peer, for per-client limits: structured, and as logs print it (peer.to_string()).
  Peer peer;
  std::string remote;
  BodyReader* body = nullptr;  // never null while the handler runs
  // Set by the handler: what kind of request this is, for the server's RequestObserver (metrics
  // by route; the values are the handler's, api::RouteClass); 0 = not classified.
  unsigned route_class = 0;
  // The request's id (http/request_id.h), as in its X-Request-Id response header and its log
  // lines. Valid while the handler runs: copy it to keep it (in an event, say).
  std::string_view id;
  // The authenticated user, set by the handler when it knows one, for the access log; "" = none.
  std::string user;
};

// A body sent straight from an open file: sendfile on plain TCP, pread+write on TLS. `owner` keeps
// whatever owns fd alive until the transport is done; the transport never closes fd itself and
// never moves the file position (it reads at explicit offsets).
struct FileBody {
  std::shared_ptr<void> owner;
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// A body produced by a pull function (objects that are not local files). read fills up to n bytes
// and returns how many; 0 before `length` bytes is an error and the connection is closed. It is a
// coroutine so that a source that waits (an object store) can do so without blocking the I/O
// thread, e.g. by handing the read to a BlockingPool; buf stays valid until it completes.
struct StreamBody {
  std::shared_ptr<void> owner;
  std::function<boost::asio::awaitable<size_t>(char* buf, size_t n)> read;
  uint64_t length = 0;
};

struct Response {
  unsigned status = 200;
  Headers headers;  // Content-Length is set by the transport from the body, except for HEAD
  std::variant<std::string, FileBody, StreamBody> body;
  // For HEAD: the Content-Length to announce though no body is sent.
  std::optional<uint64_t> head_length;
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

}  // namespace onsen::http
