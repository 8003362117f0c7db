#include "support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace onsen::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool has_header(const HeaderList& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

std::string to_hex(size_t n) {
  std::ostringstream os;
  os << std::hex << n;
  return os.str();
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

size_t HttpResponse::header_count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(headers.begin(), headers.end(),
                                           [&](const auto& h) { return iequals(h.first, name); }));
}

std::string HttpResponse::describe() const {
  std::ostringstream os;
  if (!error.empty()) os << "[transport error: " << error << "] ";
  os << "HTTP " << status << " " << reason << "\n";
  for (const auto& [k, v] : headers) os << "  " << k << ": " << v << "\n";
  constexpr size_t kMax = 2000;
  if (body.size() > kMax) {
    os << "  body (" << body.size() << " bytes, truncated): " << body.substr(0, kMax) << "\n";
  } else {
    os << "  body: " << body << "\n";
  }
  return os.str();
}

struct HttpClient::Impl {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::chrono::milliseconds timeout;
  int connections = 0;

  // Runs the io_context until the pending operation completes.
  void run() {
    ioc.restart();
    ioc.run();
  }

  beast::error_code connect(const std::string& host, uint16_t port) {
    stream.emplace(ioc);
    buffer.clear();
    beast::error_code result;
    tcp::endpoint ep(asio::ip::make_address(host), port);
    stream->expires_after(timeout);
    stream->async_connect(ep, [&](beast::error_code ec) { result = ec; });
    run();
    if (result) {
      stream.reset();
    } else {
      ++connections;
      stream->socket().set_option(tcp::no_delay(true));
    }
    return result;
  }

  beast::error_code write(std::string_view data) {
    beast::error_code result;
    stream->expires_after(timeout);
    asio::async_write(*stream, asio::buffer(data.data(), data.size()),
                      [&](beast::error_code ec, size_t) { result = ec; });
    run();
    return result;
  }

  beast::error_code read(http::response_parser<http::string_body>& parser) {
    beast::error_code result;
    stream->expires_after(timeout);
    http::async_read(*stream, buffer, parser, [&](beast::error_code ec, size_t) { result = ec; });
    run();
    return result;
  }

  void close() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->socket().close(ignored);
      stream.reset();
    }
    buffer.clear();
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), impl_(std::make_unique<Impl>()) {
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() {
  impl_->close();
}

int HttpClient::connections_opened() const {
  return impl_->connections;
}

void HttpClient::disconnect() {
  impl_->close();
}

HttpResponse HttpClient::send(const HttpRequest& request) {
  // Head of the request.
  std::string head = request.method + " " + request.target + " HTTP/1.1\r\n";
  if (!has_header(request.headers, "Host")) {
    head += "Host: " + host_ + ":" + std::to_string(port_) + "\r\n";
  }
  for (const auto& [k, v] : request.headers) head += k + ": " + v + "\r\n";
  for (const auto& [k, v] : default_headers_) {
    if (!has_header(request.headers, k)) head += k + ": " + v + "\r\n";
  }
  std::string payload;
  if (request.chunks) {
    head += "Transfer-Encoding: chunked\r\n";
    for (const auto& c : *request.chunks) {
      if (c.empty()) continue;  // an empty chunk would end the body
      payload += to_hex(c.size()) + "\r\n" + c + "\r\n";
    }
    payload += "0\r\n\r\n";
  } else {
    const bool wants_length = !request.body.empty() || request.method == "POST" ||
                              request.method == "PUT" || request.method == "PATCH";
    if (request.auto_content_length && wants_length &&
        !has_header(request.headers, "Content-Length")) {
      head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
    }
    payload = request.body;
  }
  if (request.expect_continue) head += "Expect: 100-continue\r\n";
  head += "\r\n";

  HttpResponse response;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = impl_->stream.has_value();
    if (!impl_->stream) {
      if (auto ec = impl_->connect(host_, port_)) {
        response.error = "connect: " + ec.message();
        return response;
      }
    }
    beast::error_code ec;
    if (request.expect_continue) {
      ec = impl_->write(head);
    } else {
      ec = impl_->write(head + payload);
    }
    auto parser = std::make_unique<http::response_parser<http::string_body>>();
    parser->body_limit(512ull * 1024 * 1024);
    parser->header_limit(64 * 1024);
    if (request.method == "HEAD") parser->skip(true);
    if (ec && ec != asio::error::broken_pipe && ec != asio::error::connection_reset) {
      // fall through to the error handling below
    } else {
      // Even when the server stopped reading our body (e.g. it rejected it early), its answer
      // may already be on the wire: read it.
      const bool write_failed = static_cast<bool>(ec);
      ec = impl_->read(*parser);
      if (write_failed && !ec) {
        response.status = parser->get().result_int();
        response.reason = std::string(parser->get().reason());
        for (const auto& f : parser->get()) {
          response.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        }
        response.body = parser->get().body();
        impl_->close();
        return response;
      }
    }
    if (!ec && request.expect_continue) {
      if (parser->get().result_int() == 100) {
        ec = impl_->write(payload);
        parser = std::make_unique<http::response_parser<http::string_body>>();
        parser->body_limit(512ull * 1024 * 1024);
        if (request.method == "HEAD") parser->skip(true);
        if (!ec) ec = impl_->read(*parser);
      } else {
        // Final answer without 100 Continue: the body was never sent, so this connection's
        // framing is unknown to the server. Do not reuse it.
        auto& msg = parser->get();
        response.status = msg.result_int();
        response.reason = std::string(msg.reason());
        for (const auto& f : msg) {
          response.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        }
        response.body = msg.body();
        impl_->close();
        return response;
      }
    }
    if (ec) {
      impl_->close();
      // A kept-alive connection may have been closed by the server between requests: retry once
      // on a fresh connection.
      if (reused && attempt == 0 &&
          (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::error::eof)) {
        continue;
      }
      response.error = ec.message();
      return response;
    }
    auto& msg = parser->get();
    response.status = msg.result_int();
    response.reason = std::string(msg.reason());
    for (const auto& f : msg) {
      response.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    response.body = std::move(msg.body());
    if (!msg.keep_alive()) impl_->close();
    return response;
  }
  return response;
}

HttpRequest make_request(std::string method, std::string target, HeaderList headers,
                         std::string body) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

HttpRequest chunked_request(std::string method, std::string target, HeaderList headers,
                            std::vector<std::string> chunks) {
  HttpRequest r = make_request(std::move(method), std::move(target), std::move(headers));
  r.chunks = std::move(chunks);
  return r;
}

HttpResponse HttpClient::get(const std::string& target, HeaderList headers) {
  return send(make_request("GET", target, std::move(headers)));
}

HttpResponse HttpClient::head(const std::string& target, HeaderList headers) {
  return send(make_request("HEAD", target, std::move(headers)));
}

HttpResponse HttpClient::del(const std::string& target, HeaderList headers) {
  return send(make_request("DELETE", target, std::move(headers)));
}

HttpResponse HttpClient::post(const std::string& target, std::string body, HeaderList headers) {
  return send(make_request("POST", target, std::move(headers), std::move(body)));
}

HttpResponse HttpClient::put(const std::string& target, std::string body, HeaderList headers) {
  return send(make_request("PUT", target, std::move(headers), std::move(body)));
}

HttpResponse HttpClient::patch(const std::string& target, std::string body, HeaderList headers) {
  return send(make_request("PATCH", target, std::move(headers), std::move(body)));
}

std::string relative_target(std::string_view location) {
  auto scheme = location.find("://");
  if (scheme == std::string_view::npos) return std::string(location);
  auto slash = location.find('/', scheme + 3);
  if (slash == std::string_view::npos) return "/";
  return std::string(location.substr(slash));
}

std::string path_of(std::string_view location) {
  std::string target = relative_target(location);
  auto q = target.find('?');
  return q == std::string::npos ? target : target.substr(0, q);
}

std::string add_query(std::string_view target, std::string_view key, std::string_view value) {
  std::string out(target);
  out += (out.find('?') == std::string::npos) ? '?' : '&';
  out += key;
  out += '=';
  out += value;
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace onsen::test
