// The debug listener's /debug/vars (http.debug.addr): what the main server counts, as one JSON
// object, so that tests and operators can read it while it runs. registry:2's debug server has the
// same path (Go's expvar); the names here are Onsen's own:
//   {"tls":{"handshakes":N,"signatures":N,"resumed":N,"client_gone":N,"gave_up":N},
//    "uploads":{"rehashes":N,"hash_states_saved":N,"hash_states_resumed":N}}
// (see http::TlsCounters, registry::UploadCounters). Other paths: 404.
#pragma once

#include "http/message.h"
#include "http/server.h"
#include "registry/registry.h"

namespace onsen::cli {

// A handler for the debug listener; `server` (the main one) and `registry` must outlive it.
http::Handler debug_vars_handler(const http::Server& server, const registry::Registry& registry);

}  // namespace onsen::cli
