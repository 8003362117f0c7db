#include "support/http_client.h"

#include "support/raw_client.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace onsen::test {

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
  std::chrono::milliseconds timeout;
  std::optional<RawClient> conn;  // the kept-alive connection, opened on demand
  int connections = 0;
};

HttpClient::HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), impl_(std::make_unique<Impl>()) {
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;

int HttpClient::connections_opened() const {
  return impl_->connections;
}

void HttpClient::disconnect() {
  impl_->conn.reset();
}

namespace {

void fill(HttpResponse& out, RawResponse&& msg) {
  out.status = msg.result_int();
  out.reason = std::string(msg.reason());
  for (const auto& f : msg) {
    out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  out.body = std::move(msg.body());
}

}  // namespace

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

  const bool is_head = request.method == "HEAD";
  auto& conn = impl_->conn;
  HttpResponse response;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = conn.has_value();
    if (!conn) {
      try {
        conn.emplace(host_, port_, impl_->timeout);
        ++impl_->connections;
      } catch (const std::runtime_error& e) {
        response.error = std::string("connect: ") + e.what();
        return response;
      }
    }
    bool answered = false;  // some response came: no retry
    try {
      try {
        conn->send(request.expect_continue ? head : head + payload);
      } catch (const ConnectionError& e) {
        // The server stopped reading our request (e.g. it rejected it early), but its answer
        // may already be on the wire: read it, and drop the connection.
        if (!e.peer_closed) throw;
        fill(response, conn->read_response(is_head));
        conn.reset();
        return response;
      }
      RawResponse msg = conn->read_response(is_head);
      answered = true;
      if (request.expect_continue) {
        if (msg.result_int() != 100) {
          // Final answer without 100 Continue: the body was never sent, so this connection's
          // framing is unknown to the server. Do not reuse it.
          fill(response, std::move(msg));
          conn.reset();
          return response;
        }
        conn->send(payload);
        msg = conn->read_response(is_head);
      }
      const bool keep_alive = msg.keep_alive();
      fill(response, std::move(msg));
      if (!keep_alive) conn.reset();
      return response;
    } catch (const ConnectionError& e) {
      conn.reset();
      // A kept-alive connection may have been closed by the server between requests: retry once
      // on a fresh connection.
      if (reused && attempt == 0 && !answered && e.peer_closed) continue;
      response = HttpResponse{};
      response.error = e.what();
      return response;
    }
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
