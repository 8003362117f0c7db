// SUBSCRIBEs to one Redis channel on its own thread and hands every message to a callback.
//
// Redis pub/sub loses what is published while a subscriber is disconnected, so the subscriber
// says when its messages can be trusted: on_live(true) once the subscription is confirmed (after
// every reconnection: whatever came before may have been missed), on_live(false) as soon as the
// connection is found broken. A connection that goes silent without breaking (a peer gone, a
// dropped route) is found by PINGs: one after each second without traffic, the connection
// declared broken when nothing at all arrived for kDeadAfter. Reconnects every second until
// stopped.
//
// The callbacks run on the subscriber's thread, one at a time.
#pragma once

#include "redis/connection.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace onsen::redis {

class Subscriber {
 public:
  static constexpr std::chrono::milliseconds kPingAfter{1000};
  static constexpr std::chrono::milliseconds kDeadAfter{3000};

  using OnMessage = std::function<void(const std::string& message)>;
  using OnLive = std::function<void(bool live)>;

  Subscriber(Options options, std::string channel, OnMessage on_message, OnLive on_live);
  ~Subscriber();  // stops the thread (on_live is not called for that)

 private:
  void run();
  // Subscribes on one connection and reads from it until it breaks or stop_ is set.
  void serve(Connection& connection);
  // Waits up to `timeout` for fd to be readable or the stop signal; true when fd is readable.
  bool wait_readable(int fd, std::chrono::milliseconds timeout);

  Options options_;
  std::string channel_;
  OnMessage on_message_;
  OnLive on_live_;
  int stop_fd_;  // an eventfd, written once to stop
  std::atomic<bool> stop_{false};
  bool warned_ = false;  // about the current outage (the thread's)
  std::thread thread_;
};

}  // namespace onsen::redis
