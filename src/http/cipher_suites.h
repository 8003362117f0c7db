// The TLS cipher suites Onsen accepts in http.tls.ciphersuites: one table, by Go/IANA name (as
// Distribution's configuration names them) with OpenSSL's name. Here, not in config/, because
// the OpenSSL side belongs to the HTTP server; the configuration layer passes the names through
// and the command line checks them against this table before serving (exit 2 when unknown).
#pragma once

#include <string_view>

namespace onsen::http {

struct CipherSuiteName {
  std::string_view name;     // Go/IANA: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
  std::string_view openssl;  // ECDHE-RSA-AES128-GCM-SHA256
  bool tls13;
};

// The entry for `name`, or nullptr when Distribution would reject it.
const CipherSuiteName* find_cipher_suite(std::string_view name);

}  // namespace onsen::http
