// classify_first_bytes (see plain_http.h).
#include "http/plain_http.h"

#include <array>

namespace onsen::http::detail {

FirstBytes classify_first_bytes(std::string_view bytes) {
  static constexpr std::array<std::string_view, 7> kStarts = {"GET /", "HEAD ", "POST ", "PUT /",
                                                              "OPTIO", "PATCH", "DELET"};
  constexpr size_t kLength = 5;  // a TLS record header
  const std::string_view head = bytes.substr(0, kLength);
  bool prefix = false;
  for (auto start : kStarts) {
    if (start.substr(0, head.size()) == head) prefix = true;
  }
  if (!prefix) return FirstBytes::tls;
  return head.size() < kLength ? FirstBytes::need_more : FirstBytes::plain_http;
}

}  // namespace onsen::http::detail
