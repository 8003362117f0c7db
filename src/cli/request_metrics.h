// The HTTP server's request metrics: an http::RequestObserver that counts every request by route
// (api::RouteClass), method and status code, times it per route, and adds up the body bytes
// received and sent per route. Each count is a relaxed atomic in a fixed table indexed by the
// three labels, so a request costs a few atomic additions and no lock or lookup; the exporter
// (cli/metrics_exporter) reads the tables when scraped and reports the non-zero cells.
#pragma once

#include "api/route_class.h"
#include "base/latency_histogram.h"
#include "http/server.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace onsen::cli {

class RequestMetrics final : public http::RequestObserver {
 public:
  // Methods counted apart; anything else (and a request refused unparsed) is "other".
  static constexpr std::array<std::string_view, 8> kMethods = {
      "get", "head", "put", "post", "patch", "delete", "options", "other"};
  static constexpr unsigned kFirstStatus = 100, kStatuses = 500;  // 100..599

  void observe(const http::RequestRecord& record) noexcept override;

  uint64_t requests(unsigned route, unsigned method, unsigned status_index) const {
    return requests_[route][method][status_index].load(std::memory_order_relaxed);
  }
  const base::LatencyHistogram& latency(unsigned route) const { return latency_[route]; }
  uint64_t request_bytes(unsigned route) const {
    return request_bytes_[route].load(std::memory_order_relaxed);
  }
  uint64_t response_bytes(unsigned route) const {
    return response_bytes_[route].load(std::memory_order_relaxed);
  }

 private:
  static constexpr unsigned kRoutes = api::kRouteClasses;
  static unsigned method_index(std::string_view method);

  std::array<std::array<std::array<std::atomic<uint64_t>, kStatuses>, kMethods.size()>, kRoutes>
      requests_{};
  std::array<base::LatencyHistogram, kRoutes> latency_;
  std::array<std::atomic<uint64_t>, kRoutes> request_bytes_{};
  std::array<std::atomic<uint64_t>, kRoutes> response_bytes_{};
};

}  // namespace onsen::cli
