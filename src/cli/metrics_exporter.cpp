// MetricsExporter (see metrics_exporter.h): the counters of every layer as Prometheus families.
#include "cli/metrics_exporter.h"

#include "api/route_class.h"

#include <prometheus/text_serializer.h>

#include <limits>
#include <string_view>
#include <utility>

namespace onsen::cli {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

void add_counter(MetricFamily& f, Labels labels, uint64_t value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = static_cast<double>(value);
  f.metric.push_back(std::move(m));
}

void add_gauge(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

void add_histogram(MetricFamily& f, Labels labels, const base::LatencyHistogram& h) {
  const auto s = h.snapshot();
  ClientMetric m;
  m.label = std::move(labels);
  m.histogram.sample_count = s.count;
  m.histogram.sample_sum = s.sum_seconds;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < base::LatencyHistogram::kBounds.size(); ++i) {
    cumulative += s.counts[i];
    m.histogram.bucket.push_back({cumulative, base::LatencyHistogram::kBounds[i]});
  }
  // +Inf: every observation (the serializer writes the last bucket's bound as "+Inf").
  m.histogram.bucket.push_back({s.count, std::numeric_limits<double>::infinity()});
  f.metric.push_back(std::move(m));
}

// A family that holds one sample without labels.
MetricFamily single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily f = family(std::move(name), std::move(help), type);
  ClientMetric m;
  (type == MetricType::Counter ? m.counter.value : m.gauge.value) = value;
  f.metric.push_back(std::move(m));
  return f;
}

void http_families(const RequestMetrics& r, std::vector<MetricFamily>& out) {
  auto requests =
      family("onsen_http_requests_total",
             "HTTP requests answered, by route, method and status code.", MetricType::Counter);
  auto duration = family("onsen_http_request_duration_seconds",
                         "Time from a request's header read to its response written, by route.",
                         MetricType::Histogram);
  auto received = family("onsen_http_request_bytes_total", "Request body bytes received, by route.",
                         MetricType::Counter);
  auto sent = family("onsen_http_response_bytes_total", "Response body bytes sent, by route.",
                     MetricType::Counter);
  for (unsigned route = 0; route < api::kRouteClasses; ++route) {
    const std::string name(api::route_class_name(route));
    bool any = false;
    for (unsigned method = 0; method < RequestMetrics::kMethods.size(); ++method) {
      for (unsigned status = 0; status < RequestMetrics::kStatuses; ++status) {
        const uint64_t n = r.requests(route, method, status);
        if (n == 0) continue;
        any = true;
        add_counter(requests,
                    {{"code", std::to_string(status + RequestMetrics::kFirstStatus)},
                     {"method", std::string(RequestMetrics::kMethods[method])},
                     {"route", name}},
                    n);
      }
    }
    if (!any) continue;  // a route never requested: no series
    add_histogram(duration, {{"route", name}}, r.latency(route));
    add_counter(received, {{"route", name}}, r.request_bytes(route));
    add_counter(sent, {{"route", name}}, r.response_bytes(route));
  }
  out.push_back(std::move(requests));
  out.push_back(std::move(duration));
  out.push_back(std::move(received));
  out.push_back(std::move(sent));
}

void server_families(const http::Server& server, std::vector<MetricFamily>& out) {
  out.push_back(single("onsen_http_connections_open", "Client connections open.", MetricType::Gauge,
                       static_cast<double>(server.open_connections())));
  const http::TlsCounters tls = server.tls_counters();
  auto handshakes = family("onsen_tls_handshakes_total",
                           "TLS handshakes by outcome: full (signed), resumed, dropped because "
                           "the client had gone (client_gone) or no slot came (gave_up).",
                           MetricType::Counter);
  add_counter(handshakes, {{"outcome", "full"}}, tls.signatures);
  add_counter(handshakes, {{"outcome", "resumed"}}, tls.resumed);
  add_counter(handshakes, {{"outcome", "client_gone"}}, tls.client_gone);
  add_counter(handshakes, {{"outcome", "gave_up"}}, tls.gave_up);
  out.push_back(std::move(handshakes));
  out.push_back(single("onsen_tls_client_hellos_total",
                       "TLS client hellos handed to OpenSSL (handshakes begun).",
                       MetricType::Counter, static_cast<double>(tls.handshakes)));
}

void auth_families(const MetricsSources& s, std::vector<MetricFamily>& out) {
  if (!s.auth) return;
  auto outcomes = family("onsen_auth_requests_total",
                         "Authorization decisions by outcome: success, challenged (no "
                         "credentials), failure (bad credentials), denied, throttled.",
                         MetricType::Counter);
  for (unsigned o = 0; o < api::AuthOutcomes::kCount; ++o) {
    add_counter(outcomes, {{"outcome", std::string(api::AuthOutcomes::kNames[o])}},
                s.auth->get(static_cast<api::AuthOutcomes::Outcome>(o)));
  }
  out.push_back(std::move(outcomes));
}

void cache_families(const MetricsSources& s, std::vector<MetricFamily>& out) {
  auto lookups = family("onsen_cache_requests_total",
                        "Cache lookups by cache and result (hit, miss: the storage was read, or "
                        "for auth_verification a bcrypt ran).",
                        MetricType::Counter);
  auto add = [&](const char* cache, uint64_t hits, uint64_t misses) {
    add_counter(lookups, {{"cache", cache}, {"result", "hit"}}, hits);
    add_counter(lookups, {{"cache", cache}, {"result", "miss"}}, misses);
  };
  if (s.registry) {
    const registry::Registry::CacheCounters c = s.registry->cache_counters();
    add("catalog", c.catalog_hits, c.catalog_misses);
    add("tag_list", c.tag_list_hits, c.tag_list_misses);
    add("read", c.read_hits, c.read_misses);
  }
  if (s.htpasswd) {
    const auto st = s.htpasswd->stats();
    add("auth_verification", st.cache_hits, st.bcrypt_runs);
  }
  if (!lookups.metric.empty()) out.push_back(std::move(lookups));
}

void upload_families(registry::Registry& registry, std::vector<MetricFamily>& out) {
  const registry::UploadCounters u = registry.upload_counters();
  out.push_back(single("onsen_uploads_in_progress",
                       "Uploads taking data now (a PATCH or PUT streaming into an upload).",
                       MetricType::Gauge, static_cast<double>(u.sessions_open)));
  out.push_back(single("onsen_upload_rehashes_total",
                       "Uploads whose data was read again to rebuild their hash.",
                       MetricType::Counter, static_cast<double>(u.rehashes)));
  out.push_back(single("onsen_upload_hash_states_saved_total",
                       "Upload hash states stored (one per appended chunk).", MetricType::Counter,
                       static_cast<double>(u.hash_states_saved)));
  out.push_back(single("onsen_upload_hash_states_resumed_total",
                       "Upload hash states resumed from storage instead of a rehash.",
                       MetricType::Counter, static_cast<double>(u.hash_states_resumed)));
}

void storage_families(const MetricsSources& s, std::vector<MetricFamily>& out) {
  if (!s.storage) return;
  auto calls = family("onsen_storage_operations_total",
                      "Storage driver calls, by driver and operation.", MetricType::Counter);
  auto errors =
      family("onsen_storage_operation_errors_total",
             "Storage driver calls that failed, by driver and operation.", MetricType::Counter);
  auto duration = family("onsen_storage_operation_duration_seconds",
                         "Storage driver call latency (a reader or writer: its opening), by "
                         "driver and operation.",
                         MetricType::Histogram);
  using Op = storage::MeteredDriver::Op;
  for (size_t i = 0; i < storage::MeteredDriver::kOps; ++i) {
    const Op op = static_cast<Op>(i);
    const auto& m = s.storage->meter(op);
    const Labels labels = {{"driver", s.storage_driver},
                           {"operation", std::string(storage::MeteredDriver::op_name(op))}};
    add_counter(calls, labels, m.calls.load(std::memory_order_relaxed));
    add_counter(errors, labels, m.errors.load(std::memory_order_relaxed));
    add_histogram(duration, labels, m.latency);
  }
  out.push_back(std::move(calls));
  out.push_back(std::move(errors));
  out.push_back(std::move(duration));
}

void gc_families(const registry::OnlineCollector& collector, std::vector<MetricFamily>& out) {
  const registry::CollectorStatus gc = collector.status();
  out.push_back(single("onsen_gc_runs_total", "Garbage collections started by this process.",
                       MetricType::Counter, static_cast<double>(gc.runs)));
  out.push_back(single("onsen_gc_running", "1 while a garbage collection runs here, else 0.",
                       MetricType::Gauge, gc.running ? 1 : 0));
  out.push_back(single("onsen_gc_last_duration_seconds",
                       "Duration of the last finished garbage collection (0 before the first).",
                       MetricType::Gauge, gc.last ? gc.last->duration.count() : 0));
  out.push_back(single("onsen_gc_manifests_deleted_total",
                       "Manifests deleted by garbage collections (dry runs not counted).",
                       MetricType::Counter, static_cast<double>(gc.manifests_deleted)));
  out.push_back(single("onsen_gc_blobs_deleted_total",
                       "Blobs deleted by garbage collections (dry runs not counted).",
                       MetricType::Counter, static_cast<double>(gc.blobs_deleted)));
  out.push_back(single("onsen_gc_freed_bytes_total",
                       "Bytes of blobs deleted by garbage collections (dry runs not counted).",
                       MetricType::Counter, static_cast<double>(gc.bytes_freed)));
}

void notification_families(const std::vector<NotificationEndpointCounters>& endpoints,
                           std::vector<MetricFamily>& out) {
  auto events = family("onsen_notifications_events_total",
                       "Notification events per endpoint by outcome: queued, sent, failed (a "
                       "delivery attempt), dropped.",
                       MetricType::Counter);
  auto pending = family("onsen_notifications_pending",
                        "Notification events waiting in an endpoint's queue.", MetricType::Gauge);
  for (const auto& e : endpoints) {
    add_counter(events, {{"endpoint", e.endpoint}, {"outcome", "queued"}}, e.queued);
    add_counter(events, {{"endpoint", e.endpoint}, {"outcome", "sent"}}, e.sent);
    add_counter(events, {{"endpoint", e.endpoint}, {"outcome", "failed"}}, e.failed);
    add_counter(events, {{"endpoint", e.endpoint}, {"outcome", "dropped"}}, e.dropped);
    add_gauge(pending, {{"endpoint", e.endpoint}}, static_cast<double>(e.pending));
  }
  out.push_back(std::move(events));
  out.push_back(std::move(pending));
}

}  // namespace

std::vector<MetricFamily> MetricsExporter::Collect() const {
  std::vector<MetricFamily> out;
  if (sources_.requests) http_families(*sources_.requests, out);
  if (sources_.server) server_families(*sources_.server, out);
  auth_families(sources_, out);
  cache_families(sources_, out);
  if (sources_.registry) upload_families(*sources_.registry, out);
  storage_families(sources_, out);
  if (sources_.collector) gc_families(*sources_.collector, out);
  if (sources_.notifications) notification_families(sources_.notifications(), out);
  return out;
}

std::string MetricsExporter::exposition() const {
  return prometheus::TextSerializer().Serialize(Collect());
}

http::Handler metrics_handler(const MetricsExporter& exporter) {
  return [&exporter](http::Request&) -> boost::asio::awaitable<http::Response> {
    http::Response res;
    res.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    res.body = exporter.exposition();
    co_return res;
  };
}

}  // namespace onsen::cli
