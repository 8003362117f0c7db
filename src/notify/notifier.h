// Webhook delivery (registry:2's notifications): events in, HTTP POSTs out. Knows no registry
// type: an event is its action, its target's media type (what endpoints may ignore) and its JSON
// object, written by the API layer (api/events.h) in Distribution's format.
//
// Each endpoint has a bounded queue in memory and a thread of its own that POSTs the queue's
// events in order, one event per POST in an envelope {"events":[...]} (as registry:2 2.8, whose
// every event is one write), with Content-Type application/vnd.docker.distribution.events.v1+json.
// publish() never blocks nor waits for a receiver: a short lock to append a pointer; when an
// endpoint's queue is full the event is dropped for that endpoint and counted. A failed POST
// (no connection, the timeout, a status outside 200-399) is retried, the same event again,
// immediately while fewer than `threshold` attempts failed in a row, then once per `backoff`
// until one succeeds (registry:2's retrying sink: an event is never given up while the process
// runs). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace onsen::notify {

inline constexpr std::string_view kEventsMediaType =
    "application/vnd.docker.distribution.events.v1+json";

struct Event {
  std::string action;      // push | pull | mount | delete
  std::string media_type;  // the target's; "" when the event names none (deletes)
  std::string json;        // one event object
};

struct EndpointOptions {
  std::string name;
  std::string url;                                           // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;  // added to every POST
  std::chrono::milliseconds timeout{1000};                   // one POST, connecting included
  unsigned threshold = 10;                                   // failures in a row before backoff
  std::chrono::milliseconds backoff{1000};                   // between attempts after those
  std::vector<std::string> ignored_media_types;              // events whose target has one
  std::vector<std::string> ignored_actions;
  size_t queue_size = 10000;  // events waiting at most; beyond, new ones are dropped
};

// One endpoint's counts since start, as plain atomics (read with relaxed loads: each value is
// exact, the set is not one instant's). Events: `queued` accepted into the queue, `sent`
// delivered (2xx/3xx), `dropped` refused because the queue was full, `pending` waiting or being
// sent now; POSTs: `failed` attempts that did not deliver (each retry counts).
struct EndpointCounters {
  std::atomic<uint64_t> queued{0};
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> pending{0};
};

class Notifier {
 public:
  // Starts one sender thread per endpoint. Throws std::invalid_argument for a URL that is not
  // http(s).
  explicit Notifier(const std::vector<EndpointOptions>& endpoints);
  // stop(), then joins the threads.
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues the event for every endpoint that does not ignore it. Never blocks on delivery.
  void publish(const std::shared_ptr<const Event>& event);
  // Stops accepting events; each sender keeps delivering what is queued until its queue is empty,
  // a POST fails, or `drain` has passed (the POST in progress may take up to its timeout more).
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(2));

  struct EndpointView {
    const std::string& name;
    const EndpointCounters& counters;
  };
  // The endpoints in configuration order, with their counters (live: read them as they change).
  std::vector<EndpointView> endpoints() const;

 private:
  class Endpoint;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
};

}  // namespace onsen::notify
