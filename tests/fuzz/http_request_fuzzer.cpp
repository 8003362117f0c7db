// The request head as the server reads it: Beast's parser with the session's limits, then the
// conversion to http::Request and the parsers the API layer runs on it before touching storage
// (route, query, Authorization, Range, Content-Range). Also the way back: request header values
// echoed into a response head can never split it (append_response_head drops what would).
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/byte_range.h"
#include "api/query.h"
#include "api/router.h"
#include "auth/basic_credentials.h"
#include "fuzz_check.h"
#include "http/message.h"
#include "http/wire.h"

namespace bhttp = boost::beast::http;

namespace {

constexpr uint32_t kHeaderLimit = 64 * 1024;  // http::ServerOptions::header_limit's default

// Every line of a response head ends with CRLF and holds no other CR, LF or NUL.
void check_head(std::string_view head) {
  FUZZ_CHECK(head.ends_with("\r\n\r\n"));
  size_t start = 0;
  while (start < head.size()) {
    const size_t crlf = head.find("\r\n", start);
    FUZZ_CHECK(crlf != std::string_view::npos);
    const std::string_view line = head.substr(start, crlf - start);
    FUZZ_CHECK(line.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
    start = crlf + 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bhttp::request_parser<bhttp::empty_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(boost::none);
  parser.eager(false);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_header_done()) {
    const size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec || n == 0) break;  // need_more with nothing consumed: the head is incomplete
    used += n;
  }
  if (ec || !parser.is_header_done()) return 0;

  const auto& msg = parser.get();
  onsen::http::Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  const size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  req.query = q == std::string::npos ? std::string() : req.target.substr(q + 1);
  for (const auto& f : msg) {
    req.headers.add(std::string(f.name_string()), std::string(f.value()));
  }
  FUZZ_CHECK(!req.method.empty());

  (void)onsen::api::parse_route(req.path);
  const onsen::api::Query query(req.query);
  (void)query.get("digest");
  if (auto auth = req.headers.get("Authorization")) {
    (void)onsen::auth::parse_basic_authorization(*auth);
  }
  if (auto range = req.headers.get("Range")) {
    onsen::api::ByteRange r{};
    (void)onsen::api::parse_range(*range, 1 << 20, &r);
  }
  if (auto range = req.headers.get("Content-Range")) {
    (void)onsen::api::parse_content_range(*range);
  }

  // Echo the request's headers back, as handler headers and as configured extra headers.
  onsen::http::Headers echoed;
  std::vector<std::pair<std::string, std::string>> extra;
  for (const auto& [name, value] : req.headers.fields()) {
    echoed.add(name, value);
    extra.emplace_back("X-" + name, value);
  }
  echoed.add("Location", req.target);
  std::string head;
  onsen::http::detail::HeadOptions options;
  options.version = msg.version() == 10 ? 10 : 11;
  options.content_length = size;
  (void)onsen::http::detail::append_response_head(head, options, echoed, extra);
  check_head(head);
  return 0;
}
