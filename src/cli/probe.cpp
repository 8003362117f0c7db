// probe (see probe.h).
#include "cli/probe.h"

#include "base/duration.h"
#include "cli/http_request.h"

#include <chrono>
#include <iostream>

namespace onsen::cli {

int probe(const ProbeOptions& options) {
  const std::string& url = options.url;
  const auto timeout = base::parse_go_duration(options.timeout);
  if (!timeout || timeout->count() <= 0) {
    std::cerr << "onsen probe: --timeout: expected a positive duration such as 5s, got \""
              << options.timeout << "\"\n";
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
