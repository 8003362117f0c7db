// Standard base64 with padding (RFC 4648 section 4), written out here rather than taken from the
// code under test, so a test of Basic credentials does not check the decoder against itself.
#pragma once

#include <string>
#include <string_view>

namespace onsen::test {

std::string base64(std::string_view raw);
// An Authorization header value: "Basic " + base64("user:password").
std::string basic(std::string_view user, std::string_view password);

}  // namespace onsen::test
