#include "http/request_head.h"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

#include "http/wire.h"

namespace onsen::http::detail {

namespace bhttp = boost::beast::http;

namespace {

// path = target before '?', query = after it. An absolute-form target
// ("http://host/v2/?x") yields the path of its URL ("/v2/").
void split_target(std::string_view target, std::string& path, std::string& query) {
  auto q = target.find('?');
  std::string_view p = target.substr(0, q);
  query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  if (!p.empty() && p.front() != '/') {
    if (auto scheme = p.find("://"); scheme != std::string_view::npos) {
      auto slash = p.find('/', scheme + 3);
      p = slash == std::string_view::npos ? std::string_view("/") : p.substr(slash);
    }
  }
  path = p;
}

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_parse_error(const boost::beast::error_code& ec) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) return false;
  // end_of_stream / partial_message: the peer went away, nothing to answer.
  return ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

std::optional<Rejection> check_request_head(const bhttp::request_header<>& msg) {
  const unsigned version = msg.version();
  if (version != 10 && version != 11) return Rejection{505, "HTTP version not supported"};
  // RFC 9112 3.2: an HTTP/1.1 request without Host, or any request with several, is a 400
  // (Go's net/http, hence registry:2, answers the same).
  if (const size_t hosts = msg.count(bhttp::field::host);
      hosts > 1 || (version == 11 && hosts == 0)) {
    return Rejection{400, "missing or repeated Host header"};
  }
  // Request smuggling: a Transfer-Encoding must be exactly "chunked", once, without a
  // Content-Length (Beast already rejects some orderings; this covers all of them).
  if (msg.count(bhttp::field::transfer_encoding) > 0) {
    if (msg.count(bhttp::field::content_length) > 0 ||
        msg.count(bhttp::field::transfer_encoding) > 1 ||
        !iequals(trim(msg[bhttp::field::transfer_encoding]), "chunked")) {
      return Rejection{400, "invalid Transfer-Encoding"};
    }
  }
  return std::nullopt;
}

Request make_request(const bhttp::request_header<>& msg) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  split_target(req.target, req.path, req.query);
  for (const auto& f : msg) {
    req.headers.add(std::string(f.name_string()), std::string(f.value()));
  }
  return req;
}

}  // namespace onsen::http::detail
