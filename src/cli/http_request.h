// One HTTP(S) request whose answer's status is all that matters: `onsen probe` and the health
// checks' HTTP probe. Beast over asio's asynchronous operations on a private io_context run for
// the timeout, so the deadline holds at every step (resolve, connect, TLS handshake, send,
// receive), which blocking socket reads do not give (asio polls again when SO_RCVTIMEO expires).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace onsen::cli {

// The status of one `method` request to `url` (http:// or https://; the body is not read) on a
// new connection, within `timeout` in all. https verifies the certificate against the system's
// CAs and the host name unless `insecure`. Throws std::invalid_argument for a URL that is not
// http(s)://host..., std::runtime_error when no answer came in time or the exchange failed.
unsigned request_status(const std::string& method, const std::string& url,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::chrono::milliseconds timeout, bool insecure);

}  // namespace onsen::cli
