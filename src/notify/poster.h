// POSTs to one webhook URL from one thread: HTTP/1.1 on a kept-alive connection (opened again
// when the receiver closed it), https with the certificate and host name verified against the
// system's trust store (OpenSSL's default paths, so SSL_CERT_FILE / SSL_CERT_DIR apply), and one
// deadline for the whole exchange (connect, handshake, request, answer), as Go's
// http.Client.Timeout in registry:2's sender. Not thread-safe: the endpoint's sender owns it.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onsen::notify {

// The parts of an http(s) URL a sender needs.
struct Url {
  bool https = false;
  std::string host;    // without brackets
  std::string port;    // "80", "443", or as written
  std::string target;  // path and query, "/" when none
  std::string host_header() const;
};

// Parses "http://host[:port]/path?query" or https; std::invalid_argument otherwise.
Url parse_url(std::string_view url);

// The receiver was not reached or did not answer in time: no status.
class PostError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Poster {
 public:
  Poster(Url url, std::vector<std::pair<std::string, std::string>> headers,
         std::chrono::milliseconds timeout);
  ~Poster();
  Poster(const Poster&) = delete;
  Poster& operator=(const Poster&) = delete;

  // Sends body with `content_type` and the configured headers; returns the answer's status.
  // Throws PostError on a connection error or the deadline.
  unsigned post(std::string_view content_type, const std::string& body);

 private:
  struct Connection;
  unsigned exchange(Connection& c, std::string_view content_type, const std::string& body,
                    bool& keep_alive);
  std::unique_ptr<Connection> connect();

  Url url_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::chrono::milliseconds timeout_;
  struct Io;
  std::unique_ptr<Io> io_;
  std::unique_ptr<Connection> idle_;                // the kept-alive connection, null when none
  std::chrono::steady_clock::time_point deadline_;  // of the post() in progress
};

}  // namespace onsen::notify
