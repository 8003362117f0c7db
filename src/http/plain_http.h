// Recognising a plain-HTTP request sent to the TLS port, from its first bytes, to answer it as Go's
// net/http (hence registry:2) does: "HTTP/1.0 400 Bad Request" with "Client sent an HTTP request
// to an HTTPS server." instead of a silent close, so clients print something useful.
#pragma once

#include <string_view>

namespace onsen::http::detail {

// What the first bytes of a connection to the TLS port are.
enum class FirstBytes {
  tls,         // not HTTP (a TLS record starts with 0x16): let the handshake judge them
  plain_http,  // an HTTP request line
  need_more,   // could still be either: read more (at most 5 bytes are looked at)
};

// Go looks at the 5-byte record header and knows "GET /", "HEAD ", "POST ", "PUT /" and "OPTIO";
// "PATCH" and "DELET" are added (registry clients send them too).
FirstBytes classify_first_bytes(std::string_view bytes);

// The whole answer, written on the raw connection, which is then closed.
inline constexpr std::string_view kPlainHttpOnTlsResponse =
    "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

}  // namespace onsen::http::detail
