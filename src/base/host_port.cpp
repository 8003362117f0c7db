#include "base/host_port.h"

#include <stdexcept>

namespace onsen::base {

HostPort split_host_port(std::string_view authority) {
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {  // [::1]:9000
    auto close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("unclosed [ in the host");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = authority.substr(close + 2);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) throw std::invalid_argument("no host");
  return {std::string(host), std::string(port)};
}

std::string host_header(const std::string& host, const std::string& port, bool https) {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if ((https && port == "443") || (!https && port == "80")) return h;
  return h + ":" + port;
}

}  // namespace onsen::base
