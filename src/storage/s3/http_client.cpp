#include "storage/s3/http_client.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace onsen::storage::s3 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string Endpoint::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if ((https && port == "443") || (!https && port == "80")) return h;
  return h + ":" + port;
}

Endpoint parse_endpoint(std::string_view url, bool secure) {
  Endpoint e;
  e.https = secure;
  if (url.starts_with("https://")) {
    e.https = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    e.https = false;
    url.remove_prefix(7);
  }
  if (auto slash = url.find('/'); slash != std::string_view::npos) url = url.substr(0, slash);
  std::string_view host = url, port;
  if (url.starts_with("[")) {  // [::1]:9000
    auto close = url.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("bad endpoint");
    host = url.substr(1, close - 1);
    if (close + 1 < url.size() && url[close + 1] == ':') port = url.substr(close + 2);
  } else if (auto colon = url.rfind(':'); colon != std::string_view::npos) {
    host = url.substr(0, colon);
    port = url.substr(colon + 1);
  }
  if (host.empty()) throw std::invalid_argument("no host in endpoint");
  e.host = host;
  e.port = port.empty() ? (e.https ? "443" : "80") : std::string(port);
  return e;
}

struct HttpClient::Connection {
  explicit Connection(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  std::optional<asio::ssl::stream<tcp::socket&>> tls;
  beast::flat_buffer buffer;

  template <typename F>
  auto with_stream(F&& f) {
    if (tls) return f(*tls);
    return f(socket);
  }
};

HttpClient::HttpClient(Endpoint endpoint, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout), tls_(asio::ssl::context::tls_client) {
  if (endpoint_.https) {
    if (endpoint_.skip_verify) {
      tls_.set_verify_mode(asio::ssl::verify_none);
    } else {
      tls_.set_default_verify_paths();
      tls_.set_verify_mode(asio::ssl::verify_peer);
    }
  }
}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Connection> HttpClient::connect() {
  auto c = std::make_unique<Connection>(io_);
  tcp::resolver resolver(io_);
  beast::error_code ec;
  auto results = resolver.resolve(endpoint_.host, endpoint_.port, ec);
  if (ec) throw NetworkError("resolving " + endpoint_.host + ": " + ec.message());
  // A blocking connect to an address that drops packets waits minutes: connect non-blocking and
  // poll for at most the timeout, each address in turn.
  for (const auto& entry : results) {
    c->socket.close(ec);
    c->socket.open(entry.endpoint().protocol(), ec);
    if (ec) continue;
    c->socket.non_blocking(true, ec);
    c->socket.connect(entry.endpoint(), ec);
    if (ec == asio::error::would_block || ec == asio::error::in_progress) {
      pollfd pfd{c->socket.native_handle(), POLLOUT, 0};
      int ready = ::poll(&pfd, 1, static_cast<int>(timeout_.count()));
      int err = 0;
      socklen_t len = sizeof err;
      if (ready == 1) ::getsockopt(pfd.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      ec = ready == 1 ? beast::error_code(err, boost::system::system_category())
                      : beast::error_code(asio::error::timed_out);
    }
    if (!ec) break;
  }
  if (ec) throw NetworkError("connecting to " + endpoint_.host_header() + ": " + ec.message());
  c->socket.non_blocking(false, ec);
  c->socket.set_option(tcp::no_delay(true));
  timeval tv{};
  tv.tv_sec = timeout_.count() / 1000;
  tv.tv_usec = (timeout_.count() % 1000) * 1000;
  ::setsockopt(c->socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(c->socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (endpoint_.https) {
    c->tls.emplace(c->socket, tls_);
    if (!SSL_set_tlsext_host_name(c->tls->native_handle(), endpoint_.host.c_str())) {
      throw NetworkError("TLS: cannot set SNI");
    }
    if (!endpoint_.skip_verify) {
      c->tls->set_verify_callback(asio::ssl::host_name_verification(endpoint_.host));
    }
    c->tls->handshake(asio::ssl::stream_base::client, ec);
    if (ec)
      throw NetworkError("TLS handshake with " + endpoint_.host_header() + ": " + ec.message());
  }
  return c;
}

HttpResponse HttpClient::exchange(Connection& c, const HttpRequest& request, bool& keep_alive) {
  http::request<http::span_body<const char>> req;
  req.method_string(request.method);
  req.target(request.target);
  req.version(11);
  req.set(http::field::host, endpoint_.host_header());
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.body() = boost::span<const char>(request.body.data(), request.body.size());
  req.prepare_payload();
  // PUT/POST always carry Content-Length (0 too): S3 refuses a body-less PUT without it.
  if (request.body.empty() && (request.method == "PUT" || request.method == "POST")) {
    req.set(http::field::content_length, "0");
  }

  beast::error_code ec;
  c.with_stream([&](auto& s) { http::write(s, req, ec); });
  if (ec) throw NetworkError("sending to " + endpoint_.host_header() + ": " + ec.message());

  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  if (request.method == "HEAD") parser.skip(true);
  c.with_stream([&](auto& s) { http::read(s, c.buffer, parser, ec); });
  if (ec) throw NetworkError("reading from " + endpoint_.host_header() + ": " + ec.message());

  auto& res = parser.get();
  HttpResponse out;
  out.status = res.result_int();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.headers[name] = std::string(field.value());
  }
  out.body = std::move(res.body());
  keep_alive = res.keep_alive();
  return out;
}

HttpResponse HttpClient::send(const HttpRequest& request) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> c;
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty() && attempt == 0) {
        c = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    const bool reused = c != nullptr;
    if (!c) c = connect();
    bool keep_alive = false;
    try {
      HttpResponse res = exchange(*c, request, keep_alive);
      if (keep_alive) {
        std::lock_guard lock(mutex_);
        idle_.push_back(std::move(c));
      }
      return res;
    } catch (const NetworkError&) {
      // A pooled connection the server closed while idle fails on first use: once more, fresh.
      if (!reused) throw;
    }
  }
}

}  // namespace onsen::storage::s3
