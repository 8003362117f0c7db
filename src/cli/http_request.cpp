// request_status (see http_request.h).
#include "cli/http_request.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <exception>
#include <optional>
#include <stdexcept>

namespace onsen::cli {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

struct Target {
  bool https = false;
  std::string host;  // without brackets
  std::string port;
  std::string path;  // path and query, "/" at least
};

Target parse(const std::string& url) {
  Target t;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    t.https = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    throw std::invalid_argument("expected http:// or https://");
  }
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  t.path = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  t.path = t.path.substr(0, t.path.find('#'));
  if (t.path.empty() || t.path.front() != '/') t.path = "/" + t.path;
  if (authority.find('@') != std::string_view::npos) {
    throw std::invalid_argument("user information in the URL is not supported");
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("unclosed [");
    t.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw std::invalid_argument("bad port");
      port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.rfind(':');
    t.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (t.host.empty()) throw std::invalid_argument("no host");
  t.port = port.empty() ? (t.https ? "443" : "80") : std::string(port);
  return t;
}

template <typename Stream>
asio::awaitable<unsigned> exchange(
    Stream& stream, const Target& t, const std::string& method,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::empty_body> req;
  req.method_string(method);
  req.target(t.path);
  req.version(11);
  const bool default_port = t.port == (t.https ? "443" : "80");
  const std::string host = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  req.set(http::field::host, default_port ? host : host + ":" + t.port);
  req.set(http::field::connection, "close");
  for (const auto& [name, value] : headers) req.insert(name, value);
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  co_await http::async_read_header(stream, buffer, parser, asio::use_awaitable);
  co_return parser.get().result_int();
}

asio::awaitable<unsigned> run(asio::io_context& io, asio::ssl::context& tls, const Target& t,
                              const std::string& method,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              bool insecure) {
  tcp::resolver resolver(io);
  auto endpoints = co_await resolver.async_resolve(t.host, t.port, asio::use_awaitable);
  beast::tcp_stream tcp_stream(io);
  co_await tcp_stream.async_connect(endpoints, asio::use_awaitable);
  if (!t.https) co_return co_await exchange(tcp_stream, t, method, headers);
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), tls);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), t.host.c_str())) {
    throw std::runtime_error("TLS: cannot set the server name");
  }
  if (!insecure) stream.set_verify_callback(asio::ssl::host_name_verification(t.host));
  co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  co_return co_await exchange(stream, t, method, headers);
}

}  // namespace

unsigned request_status(const std::string& method, const std::string& url,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::chrono::milliseconds timeout, bool insecure) {
  const Target target = parse(url);
  asio::ssl::context tls(asio::ssl::context::tls_client);
  if (!insecure) {
    tls.set_default_verify_paths();
    tls.set_verify_mode(asio::ssl::verify_peer);
  }
  std::optional<unsigned> status;
  std::exception_ptr failure;
  // Declared last, destroyed first: an exchange cut short by the deadline ends with it.
  asio::io_context io;
  asio::co_spawn(io, run(io, tls, target, method, headers, insecure),
                 [&](std::exception_ptr e, unsigned result) {
                   if (e) {
                     failure = e;
                   } else {
                     status = result;
                   }
                 });
  io.run_for(timeout);
  if (failure) std::rethrow_exception(failure);
  if (!status)
    throw std::runtime_error("no answer within " + std::to_string(timeout.count()) + "ms");
  return *status;
}

}  // namespace onsen::cli
