// A parsed request head checked and turned into a Request: the part of serving a request that
// needs no connection (the session reads the head, then asks these).
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"

namespace onsen::http::detail {

// s without leading and trailing spaces and tabs.
std::string_view trim(std::string_view s);

// True when the head could not be parsed (answer 400), false when the peer went away.
bool is_parse_error(const boost::beast::error_code& ec);

// Why a parsed head is refused: the status and message to answer before closing.
struct Rejection {
  unsigned status;
  std::string_view message;
};

// nullopt when the head may be served: HTTP/1.0 or 1.1, one Host (none allowed in 1.0), and no
// ambiguous body framing.
std::optional<Rejection> check_request_head(const boost::beast::http::request_header<>& msg);

// The Request for a checked head: method, target (split into path and query) and headers; the
// caller sets remote and body.
Request make_request(const boost::beast::http::request_header<>& msg);

}  // namespace onsen::http::detail
