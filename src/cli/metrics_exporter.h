// /metrics of the debug listener (http.debug.prometheus): everything the server counts, in
// Prometheus' text exposition format. The counts live where they happen, as plain atomics of
// each layer (http::Server's connections and TLS counters, cli::RequestMetrics, api::AuthOutcomes,
// the registry's cache and upload counters, storage::MeteredDriver, the collector's status); this
// exporter reads them when scraped and builds prometheus-cpp's MetricFamily values, which its
// TextSerializer writes. So no request pays for a lock or a label lookup, and only cli/ depends
// on prometheus-cpp. The metric names are listed in README.md ("Metrics").
#pragma once

#include "api/auth_outcomes.h"
#include "auth/authenticator.h"
#include "cli/request_metrics.h"
#include "config/config.h"
#include "http/message.h"
#include "http/server.h"
#include "registry/online_collector.h"
#include "registry/registry.h"
#include "storage/metered_driver.h"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace onsen::cli {

// Whether serve keeps metrics: a debug listener with http.debug.prometheus.enabled. Without,
// nothing is counted that only the metrics would read (no observer, no metered driver).
inline bool metrics_enabled(const config::Config& cfg) {
  return cfg.http.prometheus_enabled && !cfg.http.debug_addr.empty();
}

// One notification endpoint's delivery counts (the notifications module keeps them): events
// queued, delivered, that failed a delivery attempt, dropped (queue full or given up), and
// pending in its queue now.
struct NotificationEndpointCounters {
  std::string endpoint;
  uint64_t queued = 0, sent = 0, failed = 0, dropped = 0, pending = 0;
};

// Where the counts are; every pointer may be null (that part is then not exported) and must
// outlive the exporter.
struct MetricsSources {
  const http::Server* server = nullptr;                // connections open, TLS handshakes
  const RequestMetrics* requests = nullptr;            // the server's observer
  const api::AuthOutcomes* auth = nullptr;             // null without an authorizer
  const auth::BasicAuthenticator* htpasswd = nullptr;  // its verification cache
  registry::Registry* registry = nullptr;              // listing and read caches, uploads
  const storage::MeteredDriver* storage = nullptr;
  std::string storage_driver;  // the `driver` label: storage.<driver> of the configuration
  const registry::OnlineCollector* collector = nullptr;
  // The notification endpoints' counts, when notifications are configured (the lead wires the
  // notifications module here); empty function: none exported.
  std::function<std::vector<NotificationEndpointCounters>()> notifications;
};

class MetricsExporter final : public prometheus::Collectable {
 public:
  explicit MetricsExporter(MetricsSources sources) : sources_(std::move(sources)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;
  // Collect() in Prometheus' text format (version 0.0.4).
  std::string exposition() const;

 private:
  MetricsSources sources_;
};

// The debug listener's handler for the metrics path: the exposition, for any method.
http::Handler metrics_handler(const MetricsExporter& exporter);

}  // namespace onsen::cli
