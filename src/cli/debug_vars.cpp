// debug_vars_handler (see debug_vars.h).
#include "cli/debug_vars.h"

#include <fmt/format.h>

namespace onsen::cli {

http::Handler debug_vars_handler(const http::Server& server, const registry::Registry& registry,
                                 const registry::OnlineCollector* collector) {
  return [&server, &registry,
          collector](http::Request& req) -> boost::asio::awaitable<http::Response> {
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
    res.body = body + "}\n";
    co_return res;
  };
}

}  // namespace onsen::cli
