// A URL's host and port as clients need them (the S3 driver's endpoint, the notification
// senders' webhook URLs): split from the authority, and joined again into a Host header.
#pragma once

#include <string>
#include <string_view>

namespace onsen::base {

struct HostPort {
  std::string host;  // without brackets
  std::string port;  // "" when the authority has none
};

// "host", "host:port", "[v6]" or "[v6]:port". std::invalid_argument for an unclosed '[' or an
// empty host.
HostPort split_host_port(std::string_view authority);

// "host" or "host:port" as the Host header carries it: an IPv6 address in brackets, the port left
// out when it is the scheme's default (443 for https, 80 for http).
std::string host_header(const std::string& host, const std::string& port, bool https);

}  // namespace onsen::base
