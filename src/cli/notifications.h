// notifications: -> the notifier serve's API publishes its events to (notify/notifier.h), and
// what those events say about this process (api::EventOptions: source address, instance id).
#pragma once

#include "api/events.h"
#include "cli/metrics_exporter.h"
#include "config/config.h"
#include "notify/notifier.h"

#include <functional>
#include <memory>
#include <vector>

namespace onsen::cli {

struct Notifications {
  std::unique_ptr<notify::Notifier> notifier;  // null when no endpoint is enabled
  api::EventOptions events;                    // events.notifier points at it
};

// Starts the enabled endpoints' senders (a disabled one is logged and skipped, as registry:2
// does). std::invalid_argument for an endpoint URL the sender cannot use.
Notifications start_notifications(const config::Config& cfg);

// The endpoints' delivery counts for /metrics, read at each scrape; `notifier` (may be null: no
// endpoint, nothing exported) must outlive the function.
std::function<std::vector<NotificationEndpointCounters>()> notification_counters(
    const notify::Notifier* notifier);

}  // namespace onsen::cli
