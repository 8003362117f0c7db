// The bearer token of every request when token auth is on, before any signature is checked:
// parse_jwt either refuses it or yields parts that are exactly what the token spelled, and the
// base64url decoder accepts one spelling per byte string (a tampered token cannot decode to the
// bytes that were signed).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/jose_encoding.h"
#include "auth/jwt.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto bytes = onsen::auth::base64url_decode(text)) {
    FUZZ_CHECK(onsen::auth::base64url_encode(*bytes) == text);
  }
  if (auto bytes = onsen::auth::base64_decode(text)) {
    FUZZ_CHECK(onsen::auth::base64_encode(*bytes) == text);
  }

  std::string why;
  auto jwt = onsen::auth::parse_jwt(text, &why);
  if (!jwt) {
    FUZZ_CHECK(!why.empty());
    return 0;
  }
  // The signed part is the token up to its last dot; the signature is what follows, decoded.
  FUZZ_CHECK(text.starts_with(jwt->signing_input));
  FUZZ_CHECK(text.size() > jwt->signing_input.size() && text[jwt->signing_input.size()] == '.');
  FUZZ_CHECK(onsen::auth::base64url_encode(jwt->signature) ==
             text.substr(jwt->signing_input.size() + 1));
  FUZZ_CHECK(jwt->signing_input.find('.') != std::string::npos);
  return 0;
}
