// `onsen probe URL [--timeout D] [--insecure]`: one HTTP(S) GET, for container healthchecks in an
// image that has no shell and no curl (Swarm's `healthcheck: test: ["CMD", "/usr/bin/onsen",
// "probe", "http://127.0.0.1:5001/debug/ready"]`, Docker's HEALTHCHECK, a Kubernetes exec probe).
#pragma once

#include <string>

namespace onsen::cli {

struct ProbeOptions {
  std::string url;             // http://host[:port]/path or https://...
  std::string timeout = "5s";  // a Go duration: the whole exchange, from resolving the host
  bool insecure = false;       // https: accept any certificate (a self-signed one)
};

// Writes one line on stderr (the status, or why there is none). Returns the exit status: 0 for a
// 2xx answer, 1 for any other answer or none, 2 for a bad URL or --timeout.
int probe(const ProbeOptions& options);

}  // namespace onsen::cli
