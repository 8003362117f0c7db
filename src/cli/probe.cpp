// probe (see probe.h): the S3 driver's blocking HTTP client, which already speaks HTTP/1.1 over
// TCP or TLS with timeouts, sends the one request.
#include "cli/probe.h"

#include "base/duration.h"
#include "storage/s3/http_client.h"

#include <chrono>
#include <iostream>

namespace onsen::cli {

unsigned request_status(const std::string& method, const std::string& url,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::chrono::milliseconds timeout, bool insecure) {
  storage::s3::Endpoint endpoint = storage::s3::parse_endpoint(url, false);
  endpoint.skip_verify = insecure;
  storage::s3::HttpClient client(endpoint, timeout);
  storage::s3::HttpRequest request;
  request.method = method;
  const size_t scheme = url.find("://");
  const size_t path = url.find_first_of("/?", scheme == std::string::npos ? 0 : scheme + 3);
  request.target = path == std::string::npos ? "/" : url.substr(path);
  if (request.target.front() == '?') request.target = "/" + request.target;
  request.headers = headers;
  return client.send(request).status;
}

int probe(const ProbeOptions& options) {
  const std::string& url = options.url;
  const auto timeout = base::parse_go_duration(options.timeout);
  if (!timeout || timeout->count() <= 0) {
    std::cerr << "onsen probe: --timeout: expected a positive duration such as 5s, got \""
              << options.timeout << "\"\n";
    return 2;
  }
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    std::cerr << "onsen probe: expected an http:// or https:// URL, got \"" << url << "\"\n";
    return 2;
  }
  try {
    const unsigned status =
        request_status("GET", url, {{"User-Agent", "onsen-probe"}},
                       std::chrono::ceil<std::chrono::milliseconds>(*timeout), options.insecure);
    std::cerr << "onsen probe: " << url << ": " << status << "\n";
    return status >= 200 && status < 300 ? 0 : 1;
  } catch (const std::invalid_argument& e) {
    std::cerr << "onsen probe: bad URL \"" << url << "\": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "onsen probe: " << url << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace onsen::cli
