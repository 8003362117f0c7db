#include "cli/notifications.h"

#include "base/uuid.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <climits>

namespace onsen::cli {

namespace {

// registry:2's source.addr: this host's name and the port of http.addr (http.addr itself when
// the host has no name, or for a unix socket).
std::string source_addr(const config::HttpConfig& http) {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return http.addr;
  if (http.net != "tcp") return http.addr;
  const auto colon = http.addr.rfind(':');
  if (colon == std::string::npos) return http.addr;
  std::string host = name;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + http.addr.substr(colon);
}

}  // namespace

Notifications start_notifications(const config::Config& cfg) {
  Notifications out;
  std::vector<notify::EndpointOptions> endpoints;
  for (size_t i = 0; i < cfg.notifications.endpoints.size(); ++i) {
    const auto& e = cfg.notifications.endpoints[i];
    std::string name = e.name.empty() ? "endpoint" + std::to_string(i) : e.name;
    if (e.disabled) {
      spdlog::info("notifications: endpoint {} disabled, skipping", name);
      continue;
    }
    notify::EndpointOptions options;
    options.name = name;
    options.url = e.url;
    for (const auto& [header, values] : e.headers) {
      for (const auto& value : values) options.headers.emplace_back(header, value);
    }
    options.timeout = e.timeout;
    options.threshold = static_cast<unsigned>(std::min<uint64_t>(e.threshold, UINT_MAX));
    options.backoff = e.backoff;
    options.ignored_media_types = e.ignored_media_types;
    options.ignored_actions = e.ignored_actions;
    options.queue_size = e.queue_size;
    // The URL may carry a secret in its query; the headers are not printed (registry:2 prints
    // them, Authorization included).
    spdlog::info("notifications: endpoint {} ({}), timeout {} ms, threshold {}, backoff {} ms",
                 name, e.url.substr(0, e.url.find('?')), options.timeout.count(), options.threshold,
                 options.backoff.count());
    endpoints.push_back(std::move(options));
  }
  if (endpoints.empty()) return out;
  out.notifier = std::make_unique<notify::Notifier>(endpoints);
  out.events.notifier = out.notifier.get();
  out.events.include_references = cfg.notifications.include_references;
  out.events.tls = !cfg.http.tls.certificate.empty();
  out.events.relative_urls = cfg.http.relative_urls;
  out.events.source_addr = source_addr(cfg.http);
  out.events.instance_id = base::fast_random_uuid();
  return out;
}

std::function<std::vector<NotificationEndpointCounters>()> notification_counters(
    const notify::Notifier* notifier) {
  if (!notifier) return {};
  return [notifier] {
    std::vector<NotificationEndpointCounters> out;
    for (const auto& endpoint : notifier->endpoints()) {
      const auto& c = endpoint.counters;
      out.push_back({.endpoint = endpoint.name,
                     .queued = c.queued.load(std::memory_order_relaxed),
                     .sent = c.sent.load(std::memory_order_relaxed),
                     .failed = c.failed.load(std::memory_order_relaxed),
                     .dropped = c.dropped.load(std::memory_order_relaxed),
                     .pending = c.pending.load(std::memory_order_relaxed)});
    }
    return out;
  };
}

}  // namespace onsen::cli
