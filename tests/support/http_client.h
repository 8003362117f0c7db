// The request-level HTTP/1.1 client of the end-to-end tests: one keep-alive connection to a
// loopback server, any method, fixed or chunked request bodies, "Expect: 100-continue", HEAD, a
// retry when the server closed an idle connection. Requests are composed as raw bytes (so a test
// controls exactly what goes on the wire) and travel over RawClient (raw_client.h), the one
// connection code of the C++ tests; tests that need to send malformed bytes or watch the
// connection itself use RawClient directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onsen::test {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  unsigned status = 0;  // 0 when the exchange failed (see error)
  std::string reason;
  HeaderList headers;
  std::string body;
  std::string error;  // transport error, "" on success

  // First value of a header (case-insensitive name), nullopt when absent.
  std::optional<std::string> header(std::string_view name) const;
  // Value or "" when absent.
  std::string header_or_empty(std::string_view name) const { return header(name).value_or(""); }
  bool has_header(std::string_view name) const { return header(name).has_value(); }
  size_t header_count(std::string_view name) const;
  // One-line summary plus headers and (truncated) body, for assertion messages.
  std::string describe() const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";  // path and query, sent as given
  HeaderList headers;        // Host is added unless present
  std::string body;
  // When set, the body is sent with Transfer-Encoding: chunked, one chunk per element (body is
  // then ignored).
  std::optional<std::vector<std::string>> chunks;
  // Send "Expect: 100-continue" and wait for the interim response before sending the body.
  bool expect_continue = false;
  // When false, no Content-Length is added automatically (a header given in `headers` is sent
  // as is).
  bool auto_content_length = true;
};

HttpRequest make_request(std::string method, std::string target, HeaderList headers = {},
                         std::string body = {});
// A request whose body goes out with Transfer-Encoding: chunked, one chunk per element.
HttpRequest chunked_request(std::string method, std::string target, HeaderList headers,
                            std::vector<std::string> chunks);

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port,
             std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse send(const HttpRequest& request);

  HttpResponse get(const std::string& target, HeaderList headers = {});
  HttpResponse head(const std::string& target, HeaderList headers = {});
  HttpResponse del(const std::string& target, HeaderList headers = {});
  HttpResponse post(const std::string& target, std::string body = {}, HeaderList headers = {});
  HttpResponse put(const std::string& target, std::string body = {}, HeaderList headers = {});
  HttpResponse patch(const std::string& target, std::string body = {}, HeaderList headers = {});

  // Number of TCP connections opened so far (1 when keep-alive reuse worked throughout).
  int connections_opened() const;
  // Drops the current connection; the next request opens a new one.
  void disconnect();

  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

  // A header sent with every request that does not set it itself (e.g. Authorization).
  void set_default_header(std::string name, std::string value) {
    default_headers_.emplace_back(std::move(name), std::move(value));
  }

 private:
  struct Impl;
  std::string host_;
  uint16_t port_;
  HeaderList default_headers_;
  std::unique_ptr<Impl> impl_;
};

// "http://127.0.0.1:5000/v2/x?y" -> "/v2/x?y"; a relative reference is returned unchanged.
std::string relative_target(std::string_view location);
// Path part of a target or URL (before '?').
std::string path_of(std::string_view location);
// Appends "key=value" to a target that may already have a query string. value is sent as given.
std::string add_query(std::string_view target, std::string_view key, std::string_view value);
// Percent-encodes everything except unreserved characters (as Go's url.QueryEscape does).
std::string url_encode(std::string_view s);

}  // namespace onsen::test
