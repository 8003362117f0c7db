#include "cli/request_metrics.h"

namespace onsen::cli {

unsigned RequestMetrics::method_index(std::string_view method) {
  // Requests carry the method as sent (HTTP methods are case-sensitive: "get" is not GET).
  static constexpr std::array<std::string_view, kMethods.size() - 1> kSent = {
      "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"};
  for (unsigned i = 0; i < kSent.size(); ++i) {
    if (method == kSent[i]) return i;
  }
  return kMethods.size() - 1;
}

void RequestMetrics::observe(const http::RequestRecord& record) noexcept {
  const unsigned route = record.route_class < kRoutes ? record.route_class : 0;
  const unsigned status = record.status >= kFirstStatus && record.status < kFirstStatus + kStatuses
                              ? record.status - kFirstStatus
                              : kStatuses - 1;  // never sent by this server; 599 rather than lost
  requests_[route][method_index(record.method)][status].fetch_add(1, std::memory_order_relaxed);
  latency_[route].observe(record.duration);
  if (record.request_bytes) {
    request_bytes_[route].fetch_add(record.request_bytes, std::memory_order_relaxed);
  }
  if (record.response_bytes) {
    response_bytes_[route].fetch_add(record.response_bytes, std::memory_order_relaxed);
  }
}

}  // namespace onsen::cli
