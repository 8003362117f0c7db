// PUBLISHes messages on one Redis channel from its own thread: publish() only queues, so a
// caller on an I/O thread or in the middle of a storage write never waits for Redis.
//
// Delivery is at most once, as Redis pub/sub's: a message that cannot be sent (Redis down) is
// retried once on a new connection, then dropped with a warning. Subscribers notice the same
// outage on their own connections and stop trusting their caches (see Subscriber).
//
// Thread-safe.
#pragma once

#include "redis/connection.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace onsen::redis {

class Publisher {
 public:
  Publisher(Options options, std::string channel);
  // Sends what is queued (each message tried as usual, the rest dropped after a failure), then
  // stops.
  ~Publisher();

  void publish(std::string message);
  // Waits until every message published before the call was sent (or given up), for at most
  // `bound`; at once while Redis is unreachable (the messages would only wait out dial timeouts).
  void flush(std::chrono::milliseconds bound);

 private:
  void run();
  // Sends one message, reconnecting once; false when it could not be sent.
  bool send(const std::string& message);

  Options options_;
  std::string channel_;
  std::unique_ptr<Connection> connection_;  // the thread's; null while disconnected
  std::mutex mutex_;
  std::condition_variable queued_;
  std::condition_variable sent_;
  std::deque<std::string> queue_;
  uint64_t published_ = 0;  // messages queued so far
  uint64_t done_ = 0;       // of those, sent or given up
  bool stopping_ = false;
  std::atomic<bool> warned_{false};  // one warning per outage; flush() reads it
  std::thread thread_;
};

}  // namespace onsen::redis
