// SHA-256 of a byte string, as raw bytes: the key of the verification caches (credentials,
// tokens) and of the key IDs token authentication computes. OpenSSL EVP (SHA-NI where present).
#pragma once

#include <string>
#include <string_view>

namespace onsen::auth {

// The 32 digest bytes; throws std::runtime_error if OpenSSL fails.
std::string sha256_bytes(std::string_view bytes);

}  // namespace onsen::auth
