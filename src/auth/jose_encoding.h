// The encodings of JOSE (JWS, JWK) and of libtrust's key IDs: base64url without padding (RFC 7515
// §2), standard base64 (a JWS header's x5c certificates, RFC 7515 §4.1.6) and base32 (RFC 4648).
// Strict decoders: anything but the alphabet, a length no encoder produces or non-zero leftover
// bits is refused, so that one token has one spelling (a tampered token cannot pass by decoding
// to the same bytes).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace onsen::auth {

std::optional<std::string> base64url_decode(std::string_view text);  // no '=' padding
std::string base64url_encode(std::string_view bytes);                // no '=' padding
std::optional<std::string> base64_decode(std::string_view text);     // '=' padding required
std::string base64_encode(std::string_view bytes);                   // with '=' padding
std::string base32_encode(std::string_view bytes);                   // no '=' padding

}  // namespace onsen::auth
