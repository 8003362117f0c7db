// A small blocking HTTP/1.1 client for the S3 driver: one endpoint (http or https), requests sent
// on pooled keep-alive connections shared by all threads, a timeout on every socket operation
// (connecting, each write, each read: TimedSocket), so a gateway that stalls becomes a
// NetworkError within the timeout, never a thread held forever.
// Blocking on purpose: the driver interface is synchronous and the registry core calls drivers
// without kCheapReads from its blocking pool, never from an I/O thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace onsen::storage::s3 {

struct Endpoint {
  bool https = true;
  std::string host;  // name or address, without brackets
  std::string port;  // "443", "80", ...
  bool skip_verify = false;
  // "host" or "host:port" as the Host header carries it (and as SigV4 signs it).
  std::string host_header() const;
  // Nobody between this process and the endpoint can change a request's bytes unnoticed: TLS
  // with the certificate verified (its record MAC), or a loopback address (the bytes never
  // leave this host's kernel).
  bool tamper_proof() const;
};

// Parses "http://host:port" / "https://host" / "host:port" (then `secure` picks the scheme).
Endpoint parse_endpoint(std::string_view url, bool secure);

// What a request body produced while it is sent (HttpRequest::body_source) throws when the rest
// of it will not come: the request is dropped with its connection, not retried.
class BodyAbandoned : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // path and query, encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // not owned; must live until send returns
  // Instead of `body`: body_size bytes that are still arriving. body_source(offset) waits for
  // bytes from offset on and returns those there are (at least one), or throws BodyAbandoned.
  std::function<std::string_view(uint64_t offset)> body_source;
  uint64_t body_size = 0;
};

struct HttpResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names in lowercase
  std::string body;
  const std::string* header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

// A network failure: nothing or only part of an answer arrived (the request may be retried).
class NetworkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpClient;

// An answer whose body is read as it arrives (a blob GET): the status and headers first, then
// read() until 0. A stream read to its end gives its connection back to the pool; one dropped
// earlier closes it.
class HttpStream {
 public:
  ~HttpStream();
  const HttpResponse& head() const;  // status and headers; body empty
  // Up to n bytes of the body; 0 at its end. Throws NetworkError.
  size_t read(char* buf, size_t n);
  std::string read_all();

 private:
  friend class HttpClient;
  struct Impl;
  explicit HttpStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class HttpClient {
 public:
  // timeout: the longest the endpoint may keep the client waiting for any one step (a connect,
  // room to write, the next bytes of an answer); a body that keeps flowing may take longer.
  HttpClient(Endpoint endpoint, std::chrono::milliseconds timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends the request and reads the whole answer. Throws NetworkError when the connection fails
  // (a pooled connection the server had closed is retried once on a fresh one first).
  HttpResponse send(const HttpRequest& request);
  // Sends the request and reads the answer's head; the body is read through the stream.
  std::unique_ptr<HttpStream> open(const HttpRequest& request);

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  struct Connection;
  friend class HttpStream;
  std::unique_ptr<Connection> connect();
  // A pooled connection, or a new one (fresh: never a pooled one).
  std::unique_ptr<Connection> take(bool fresh, bool& reused);
  void give_back(std::unique_ptr<Connection> c);
  void write_request(Connection& c, const HttpRequest& request);
  void write_streamed_request(Connection& c, const HttpRequest& request);
  HttpResponse exchange(Connection& c, const HttpRequest& request, bool& keep_alive);

  Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  boost::asio::io_context io_;  // never run: sockets only need one to exist
  boost::asio::ssl::context tls_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;  // LIFO: the warmest connection first
};

}  // namespace onsen::storage::s3
