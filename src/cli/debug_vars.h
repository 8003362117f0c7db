// The debug listener's /debug/vars (http.debug.addr): what the main server counts, as one JSON
// object, so that tests and operators can read it while it runs. registry:2's debug server has the
// same path (Go's expvar); the names here are Onsen's own:
//   {"tls":{"handshakes":N,"signatures":N,"resumed":N,"client_gone":N,"gave_up":N},
//    "uploads":{"rehashes":N,"hash_states_saved":N,"hash_states_resumed":N},
//    "gc":{"state":"idle|running","runs":N,"last_duration_s":S,"manifests_deleted":N,
//          "blobs_deleted":N,"bytes_freed":N},
//    "notifications":{"<endpoint name>":{"queued":N,"sent":N,"failed":N,"dropped":N,
//                                        "pending":N},...}}
// (see http::TlsCounters, registry::UploadCounters, registry::CollectorStatus: the gc totals are
// this process's collections', dry runs not counted; "gc" is absent without a collector;
// notify::EndpointCounters: "notifications" is absent without an enabled endpoint). Other
// paths: 404.
#pragma once

#include "http/message.h"
#include "http/server.h"
#include "notify/notifier.h"
#include "registry/online_collector.h"
#include "registry/registry.h"

namespace onsen::cli {

// A handler for the debug listener; `server` (the main one), `registry`, `collector` and
// `notifier` (both may be null) must outlive it.
http::Handler debug_vars_handler(const http::Server& server, const registry::Registry& registry,
                                 const registry::OnlineCollector* collector,
                                 const notify::Notifier* notifier = nullptr);

}  // namespace onsen::cli
