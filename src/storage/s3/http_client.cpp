#include "storage/s3/http_client.h"

#include "base/host_port.h"
#include "storage/s3/timed_socket.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace onsen::storage::s3 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string Endpoint::host_header() const {
  return base::host_header(host, port, https);
}

bool Endpoint::tamper_proof() const {
  // TLS with an unverified certificate lets whoever answers in the endpoint's place read and
  // change the bytes (the signature covers the headers only when the payload is unsigned).
  if (https) return !skip_verify;
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
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
  base::HostPort parts = base::split_host_port(url);
  e.host = std::move(parts.host);
  e.port = parts.port.empty() ? (e.https ? "443" : "80") : std::move(parts.port);
  return e;
}

struct HttpClient::Connection {
  Connection(asio::io_context& io, std::chrono::milliseconds timeout)
      : socket(io), timed(socket, timeout) {}
  tcp::socket socket;  // non-blocking once connected: every wait is TimedSocket's, bounded
  TimedSocket timed;
  std::optional<asio::ssl::stream<TimedSocket&>> tls;
  beast::flat_buffer buffer;

  template <typename F>
  auto with_stream(F&& f) {
    if (tls) return f(*tls);
    return f(timed);
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
  auto c = std::make_unique<Connection>(io_, timeout_);
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
  // The socket stays non-blocking: TimedSocket waits for it, at most the timeout each time.
  c->socket.set_option(tcp::no_delay(true));
  if (endpoint_.https) {
    c->tls.emplace(c->timed, tls_);
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

void HttpClient::write_request(Connection& c, const HttpRequest& request) {
  if (request.body_source) {
    write_streamed_request(c, request);
    return;
  }
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
}

void HttpClient::write_streamed_request(Connection& c, const HttpRequest& request) {
  http::request<http::empty_body> req;
  req.method_string(request.method);
  req.target(request.target);
  req.version(11);
  req.set(http::field::host, endpoint_.host_header());
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.content_length(request.body_size);
  http::request_serializer<http::empty_body> head(req);
  beast::error_code ec;
  c.with_stream([&](auto& s) { http::write_header(s, head, ec); });
  for (uint64_t sent = 0; !ec && sent < request.body_size;) {
    std::string_view piece = request.body_source(sent);
    piece = piece.substr(0, request.body_size - sent);
    c.with_stream([&](auto& s) { asio::write(s, asio::buffer(piece.data(), piece.size()), ec); });
    sent += piece.size();
  }
  if (ec) throw NetworkError("sending to " + endpoint_.host_header() + ": " + ec.message());
}

namespace {

template <typename Fields>
HttpResponse head_of(const http::response_header<Fields>& res) {
  HttpResponse out;
  out.status = res.result_int();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.headers[name] = std::string(field.value());
  }
  return out;
}

}  // namespace

HttpResponse HttpClient::exchange(Connection& c, const HttpRequest& request, bool& keep_alive) {
  write_request(c, request);
  beast::error_code ec;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  if (request.method == "HEAD") parser.skip(true);
  c.with_stream([&](auto& s) { http::read(s, c.buffer, parser, ec); });
  if (ec) throw NetworkError("reading from " + endpoint_.host_header() + ": " + ec.message());
  auto& res = parser.get();
  HttpResponse out = head_of(res.base());
  out.body = std::move(res.body());
  keep_alive = res.keep_alive();
  return out;
}

std::unique_ptr<HttpClient::Connection> HttpClient::take(bool fresh, bool& reused) {
  reused = false;
  if (!fresh) {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      reused = true;
      return c;
    }
  }
  return connect();
}

void HttpClient::give_back(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(c));
}

HttpResponse HttpClient::send(const HttpRequest& request) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto c = take(attempt > 0, reused);
    bool keep_alive = false;
    try {
      HttpResponse res = exchange(*c, request, keep_alive);
      if (keep_alive) give_back(std::move(c));
      return res;
    } catch (const NetworkError&) {
      // A pooled connection the server closed while idle fails on first use: once more, fresh.
      if (!reused) throw;
    }
  }
}

struct HttpStream::Impl {
  HttpClient* client = nullptr;
  std::unique_ptr<HttpClient::Connection> conn;
  http::response_parser<http::buffer_body> parser;
  HttpResponse head;
  // A body of known length is read straight from the socket into the caller's buffer: through
  // the parser it would be copied once more, 64 KiB at a time (a blob pull is all body).
  // Bytes of it still to come; nullopt: the parser reads the body (chunked, or none).
  std::optional<uint64_t> direct_remaining;

  bool body_done() const { return direct_remaining ? *direct_remaining == 0 : parser.is_done(); }
};

HttpStream::HttpStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpStream::~HttpStream() {
  // Only a connection whose answer was read to its end can carry the next request.
  if (impl_->conn && impl_->body_done() && impl_->parser.get().keep_alive()) {
    impl_->client->give_back(std::move(impl_->conn));
  }
}

const HttpResponse& HttpStream::head() const {
  return impl_->head;
}

size_t HttpStream::read(char* buf, size_t n) {
  if (auto& remaining = impl_->direct_remaining) {
    n = static_cast<size_t>(std::min<uint64_t>(n, *remaining));
    if (n == 0) return 0;
    auto& c = *impl_->conn;
    // What came in with the head first, then the socket until n (callers count on full reads
    // before the end, as the parser path gives them).
    size_t got = asio::buffer_copy(asio::buffer(buf, n), c.buffer.data());
    c.buffer.consume(got);
    while (got < n) {
      beast::error_code ec;
      got +=
          c.with_stream([&](auto& s) { return s.read_some(asio::buffer(buf + got, n - got), ec); });
      if (ec) {
        *remaining -= got;
        throw NetworkError("reading from " + impl_->client->endpoint_.host_header() + ": " +
                           ec.message());
      }
    }
    *remaining -= got;
    return got;
  }
  auto& p = impl_->parser;
  if (p.is_done() || n == 0) return 0;
  p.get().body().data = buf;
  p.get().body().size = n;
  beast::error_code ec;
  auto& c = *impl_->conn;
  c.with_stream([&](auto& s) { http::read(s, c.buffer, p, ec); });
  if (ec == http::error::need_buffer) ec = {};
  if (ec) {
    throw NetworkError("reading from " + impl_->client->endpoint_.host_header() + ": " +
                       ec.message());
  }
  return n - p.get().body().size;
}

std::string HttpStream::read_all() {
  std::string out;
  char buf[16384];
  while (size_t n = read(buf, sizeof buf)) out.append(buf, n);
  return out;
}

std::unique_ptr<HttpStream> HttpClient::open(const HttpRequest& request) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto impl = std::make_unique<HttpStream::Impl>();
    impl->client = this;
    impl->conn = take(attempt > 0, reused);
    impl->parser.body_limit(boost::none);
    try {
      write_request(*impl->conn, request);
      beast::error_code ec;
      auto& c = *impl->conn;
      c.with_stream([&](auto& s) { http::read_header(s, c.buffer, impl->parser, ec); });
      if (ec) throw NetworkError("reading from " + endpoint_.host_header() + ": " + ec.message());
      impl->head = head_of(impl->parser.get().base());
      if (!impl->parser.is_done() && !impl->parser.chunked() && impl->parser.content_length()) {
        impl->direct_remaining = *impl->parser.content_length();
      }
      return std::unique_ptr<HttpStream>(new HttpStream(std::move(impl)));
    } catch (const NetworkError&) {
      if (!reused) throw;  // as in send: a stale pooled connection gets one fresh retry
    }
  }
}

}  // namespace onsen::storage::s3
