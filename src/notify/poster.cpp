#include "notify/poster.h"

#include "base/host_port.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>

namespace onsen::notify {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

std::string Url::host_header() const {
  return base::host_header(host, port, https);
}

Url parse_url(std::string_view text) {
  Url url;
  if (text.starts_with("https://")) {
    url.https = true;
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    text.remove_prefix(7);
  } else {
    throw std::invalid_argument("not an http:// or https:// URL");
  }
  std::string_view authority = text.substr(0, text.find_first_of("/?#"));
  text.remove_prefix(authority.size());
  url.target = std::string(text.substr(0, text.find('#')));
  if (url.target.empty() || url.target.front() == '?') url.target = "/" + url.target;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    throw std::invalid_argument("user information in the URL: use headers instead");
  }
  base::HostPort parts = base::split_host_port(authority);
  url.host = std::move(parts.host);
  url.port = parts.port.empty() ? (url.https ? "443" : "80") : std::move(parts.port);
  return url;
}

struct Poster::Io {
  asio::io_context io;  // run only inside post(), by the sender's thread
  asio::ssl::context tls{asio::ssl::context::tls_client};
};

struct Poster::Connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp() { return secure ? secure->next_layer() : *plain; }
  template <typename F>
  void with_stream(F&& f) {
    if (secure) {
      f(*secure);
    } else {
      f(*plain);
    }
  }
};

namespace {

// Starts one asynchronous operation (start(handler)) and runs the context until it completes:
// blocking calls with the tcp_stream's deadline, which blocking socket calls would not honour.
template <typename Start>
beast::error_code complete(asio::io_context& io, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

}  // namespace

Poster::Poster(Url url, std::vector<std::pair<std::string, std::string>> headers,
               std::chrono::milliseconds timeout)
    : url_(std::move(url)),
      headers_(std::move(headers)),
      timeout_(timeout),
      io_(std::make_unique<Io>()) {
  if (url_.https) {
    io_->tls.set_default_verify_paths();
    io_->tls.set_verify_mode(asio::ssl::verify_peer);
  }
}

Poster::~Poster() = default;

std::unique_ptr<Poster::Connection> Poster::connect() {
  auto c = std::make_unique<Connection>();
  if (url_.https) {
    c->secure.emplace(io_->io, io_->tls);
  } else {
    c->plain.emplace(io_->io);
  }
  tcp::resolver resolver(io_->io);
  beast::error_code ec;
  auto results = resolver.resolve(url_.host, url_.port, ec);
  if (ec) throw PostError("resolving " + url_.host + ": " + ec.message());
  c->tcp().expires_at(deadline_);
  ec = complete(io_->io, [&](auto handler) { c->tcp().async_connect(results, handler); });
  if (ec) throw PostError("connecting to " + url_.host_header() + ": " + ec.message());
  c->tcp().socket().set_option(tcp::no_delay(true), ec);
  if (c->secure) {
    if (!SSL_set_tlsext_host_name(c->secure->native_handle(), url_.host.c_str())) {
      throw PostError("TLS: cannot set the server name");
    }
    c->secure->set_verify_callback(asio::ssl::host_name_verification(url_.host));
    c->tcp().expires_at(deadline_);
    ec = complete(io_->io, [&](auto handler) {
      c->secure->async_handshake(asio::ssl::stream_base::client, handler);
    });
    if (ec) throw PostError("TLS handshake with " + url_.host_header() + ": " + ec.message());
  }
  return c;
}

unsigned Poster::exchange(Connection& c, std::string_view content_type, const std::string& body,
                          bool& keep_alive) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, url_.target, 11};
  req.set(bhttp::field::host, url_.host_header());
  req.set(bhttp::field::user_agent, "onsen");
  req.set(bhttp::field::content_type, content_type);
  for (const auto& [name, value] : headers_) req.insert(name, value);
  req.body() = body;
  req.prepare_payload();
  c.tcp().expires_at(deadline_);
  beast::error_code ec;
  c.with_stream([&](auto& stream) {
    ec = complete(io_->io,
                  [&](auto handler) { bhttp::async_write(stream, req, std::move(handler)); });
  });
  if (ec) throw PostError("sending to " + url_.host_header() + ": " + ec.message());
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024);  // the answer's body is not used; a receiver may say why
  c.tcp().expires_at(deadline_);
  c.with_stream([&](auto& stream) {
    ec = complete(io_->io, [&](auto handler) {
      bhttp::async_read(stream, c.buffer, parser, std::move(handler));
    });
  });
  if (ec) throw PostError("reading the answer of " + url_.host_header() + ": " + ec.message());
  keep_alive = parser.get().keep_alive();
  return parser.get().result_int();
}

unsigned Poster::post(std::string_view content_type, const std::string& body) {
  deadline_ = std::chrono::steady_clock::now() + timeout_;
  std::unique_ptr<Connection> c = std::move(idle_);
  const bool reused = c != nullptr;
  if (!c) c = connect();
  bool keep_alive = false;
  unsigned status = 0;
  try {
    status = exchange(*c, content_type, body, keep_alive);
  } catch (const PostError&) {
    // A kept-alive connection the receiver had closed meanwhile: once more on a new one.
    if (!reused || std::chrono::steady_clock::now() >= deadline_) throw;
    c = connect();
    status = exchange(*c, content_type, body, keep_alive);
  }
  if (keep_alive) idle_ = std::move(c);
  return status;
}

}  // namespace onsen::notify
