// The health endpoints of the debug listener (http.debug.addr), and the gate registry:2 puts in
// front of its API:
//   /debug/health  registry:2's: GET -> 200 `{}` when every check passes, else 503 with
//                  {"<check name>": "<error>", ...}; other methods 404.
//   /debug/ready   readiness (Kubernetes readinessProbe, a load balancer): 200 `{}` once the
//                  storage check has passed once (when configured) and while no check fails and
//                  the server is not stopping; else 503 with the reasons in the same shape
//                  ("server": "stopping", "<storage check>": "no successful probe yet", and the
//                  failing checks).
//   /debug/live    liveness (Kubernetes livenessProbe): 200 `{}` when one of
//                  the main server's I/O threads ran a no-op within 5 s, else 503: a process
//                  whose I/O loop is stuck is to be restarted; a failing storage is not a reason.
// The gate (registry:2's health.Handler): while any check fails, every request of the main
// listener is answered 503 UNAVAILABLE "health check failed: please see /debug/health".
#pragma once

#include "cli/health_checks.h"
#include "http/message.h"
#include "http/server.h"

#include <string>

namespace onsen::cli {

// Serves the three paths above (others: 404). `checks` and `server` (the main one) must outlive
// it; `storage_check` is the storage check's name, or empty when none is configured.
http::Handler health_handler(const HealthChecks& checks, http::Server& server,
                             std::string storage_check);

// `next`, behind registry:2's gate. `checks` must outlive it.
http::Handler health_gate(const HealthChecks& checks, http::Handler next);

}  // namespace onsen::cli
