// The Authorization header of every request when htpasswd auth is on: anything a client sends
// either decodes to credentials fit for bcrypt or is refused, without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/basic_credentials.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  auto credentials = onsen::auth::parse_basic_authorization(header);
  if (!credentials) return 0;

  FUZZ_CHECK(size <= onsen::auth::kMaxAuthorizationHeader);
  FUZZ_CHECK(!credentials->user.empty());
  FUZZ_CHECK(credentials->user.find(':') == std::string_view::npos);
  FUZZ_CHECK(credentials->user.find('\0') == std::string_view::npos);
  FUZZ_CHECK(credentials->password.find('\0') == std::string_view::npos);
  // base64 carries 3 bytes in 4 characters: the decoded text is shorter than the header.
  FUZZ_CHECK(credentials->user.size() + 1 + credentials->password.size() <= size * 3 / 4);

  // The moves the authenticator makes, and the wipes they do on the way.
  onsen::auth::BasicCredentials moved(std::move(*credentials));
  FUZZ_CHECK(credentials->user.empty() && credentials->password.empty());
  *credentials = std::move(moved);
  FUZZ_CHECK(!credentials->user.empty());
  return 0;
}
