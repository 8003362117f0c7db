// `onsen probe URL [--timeout D] [--insecure]`: one HTTP(S) GET, for container healthchecks in an
// image that has no shell and no curl (Swarm's `healthcheck: test: ["CMD", "/onsen", "probe",
// "http://127.0.0.1:5001/debug/live"]`, Docker's HEALTHCHECK, a Kubernetes exec probe).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace onsen::cli {

struct ProbeOptions {
  std::string url;             // http://host[:port]/path or https://...
  std::string timeout = "5s";  // a Go duration: each of connect, TLS handshake, send, receive
  bool insecure = false;       // https: accept any certificate (a self-signed one)
};

// The status of one `method` request to `url` (http:// or https://) on a fresh connection, its
// body ignored; `timeout` bounds each socket operation. Throws std::invalid_argument for a URL
// that names no host, std::exception when no answer came. (The health checks' HTTP probe too.)
unsigned request_status(const std::string& method, const std::string& url,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::chrono::milliseconds timeout, bool insecure);

// Writes one line on stderr (the status, or why there is none). Returns the exit status: 0 for a
// 2xx answer, 1 for any other answer or none, 2 for a bad URL or timeout.
int probe(const ProbeOptions& options);

}  // namespace onsen::cli
