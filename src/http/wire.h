// Small pieces of HTTP/1.1 wire format used by the session: the response head and the Date value.
// Pure functions, no I/O; thread-safe (the Date cache is per thread).
#pragma once

#include <boost/beast/core/string.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"

namespace onsen::http::detail {

// The IMF-fixdate of the current second ("Sun, 06 Nov 1994 08:49:37 GMT"), cached per thread. The
// view stays valid until the next call on the same thread.
std::string_view http_date();

// RFC 9110 token (header name) and field-value checks; a value may not hold CR, LF or NUL.
bool valid_header_name(std::string_view name);
bool valid_header_value(std::string_view value);

// The reason phrase of a status code, "" when unknown.
std::string_view reason_phrase(unsigned status);

// True for statuses that never carry a body nor a Content-Length: 1xx, 204, 304.
inline bool status_has_no_body(unsigned status) {
  return status < 200 || status == 204 || status == 304;
}

struct HeadOptions {
  unsigned status = 200;
  unsigned version = 11;                   // 10 or 11, of the request
  std::optional<uint64_t> content_length;  // emitted when set
  bool close = false;                      // "Connection: close"
  bool keep_alive_10 = false;              // "Connection: keep-alive" for HTTP/1.0 clients
};

// Appends a complete response head (status line, headers, blank line) to out. Handler headers come
// first; Content-Length, Transfer-Encoding and Connection given by the handler are dropped (the
// transport owns them); an extra header whose name the handler already set is skipped; headers
// with invalid names or values are dropped. Returns the number of dropped invalid headers.
size_t append_response_head(std::string& out, const HeadOptions& o, const Headers& headers,
                            const std::vector<std::pair<std::string, std::string>>& extra);

// Case-insensitive ASCII comparison.
using boost::beast::iequals;  // ASCII case-insensitive comparison

}  // namespace onsen::http::detail
