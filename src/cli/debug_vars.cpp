// debug_vars_handler (see debug_vars.h).
#include "cli/debug_vars.h"

#include <fmt/format.h>

namespace onsen::cli {

http::Handler debug_vars_handler(const http::Server& server, const registry::Registry& registry) {
  return [&server, &registry](http::Request& req) -> boost::asio::awaitable<http::Response> {
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
    res.body = fmt::format(
        "{{\"tls\":{{\"handshakes\":{},\"signatures\":{},\"resumed\":{},\"client_gone\":{},"
        "\"gave_up\":{}}},\"uploads\":{{\"rehashes\":{},\"hash_states_saved\":{},"
        "\"hash_states_resumed\":{}}}}}\n",
        tls.handshakes, tls.signatures, tls.resumed, tls.client_gone, tls.gave_up, uploads.rehashes,
        uploads.hash_states_saved, uploads.hash_states_resumed);
    co_return res;
  };
}

}  // namespace onsen::cli
