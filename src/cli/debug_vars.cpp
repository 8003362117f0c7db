// debug_vars_handler (see debug_vars.h).
#include "cli/debug_vars.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace onsen::cli {

namespace {

// "notifications":{...}, one object per endpoint (names JSON-escaped: they come from the
// configuration).
std::string notification_counters(const notify::Notifier& notifier) {
  std::string out = ",\"notifications\":{";
  bool first = true;
  for (const auto& endpoint : notifier.endpoints()) {
    const notify::EndpointCounters& c = endpoint.counters;
    out += fmt::format(
        "{}{}:{{\"queued\":{},\"sent\":{},\"failed\":{},\"dropped\":{},\"pending\":{}}}",
        first ? "" : ",",
        nlohmann::json(endpoint.name)
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
        c.queued.load(), c.sent.load(), c.failed.load(), c.dropped.load(), c.pending.load());
    first = false;
  }
  return out + "}";
}

}  // namespace

http::Handler debug_vars_handler(const http::Server& server, const registry::Registry& registry,
                                 const registry::OnlineCollector* collector,
                                 const notify::Notifier* notifier) {
  return [&server, &registry, collector,
          notifier](http::Request& req) -> boost::asio::awaitable<http::Response> {
    http::Response res;
    if (req.path != "/debug/vars") {
      res.status = 404;
      res.headers.set("Content-Type", "text/plain; charset=utf-8");
      res.body = std::string("404 page not found\n");
      co_return res;
    }
    const http::TlsCounters tls = server.tls_counters();
    const registry::UploadCounters uploads = registry.upload_counters();
    res.headers.set("Content-Type", "application/json; charset=utf-8");
    std::string body = fmt::format(
        "{{\"tls\":{{\"handshakes\":{},\"signatures\":{},\"resumed\":{},\"client_gone\":{},"
        "\"gave_up\":{}}},\"uploads\":{{\"rehashes\":{},\"hash_states_saved\":{},"
        "\"hash_states_resumed\":{}}}",
        tls.handshakes, tls.signatures, tls.resumed, tls.client_gone, tls.gave_up, uploads.rehashes,
        uploads.hash_states_saved, uploads.hash_states_resumed);
    if (collector) {
      const registry::CollectorStatus gc = collector->status();
      // The last finished run's (0 before the first has finished).
      const double last_duration = gc.last ? gc.last->duration.count() : 0;
      body += fmt::format(
          ",\"gc\":{{\"state\":\"{}\",\"runs\":{},\"last_duration_s\":{:.3f},"
          "\"manifests_deleted\":{},\"blobs_deleted\":{},\"bytes_freed\":{}}}",
          gc.running ? "running" : "idle", gc.runs, last_duration, gc.manifests_deleted,
          gc.blobs_deleted, gc.bytes_freed);
    }
    if (notifier) body += notification_counters(*notifier);
    res.body = body + "}\n";
    co_return res;
  };
}

}  // namespace onsen::cli
