// Slows down password guessing per client (the client key is whatever the caller identifies a
// client by — its IP address, or an IPv6 /64 — and is opaque here).
//
// Policy: failures are counted in a sliding window (60 s). At the 5th failure within the window the
// client is blocked for 1 s; every further failure while it is in backoff doubles the block (2 s,
// 4 s, ... up to 60 s). Blocked clients get "retry after N s" without any verification running.
// A success resets the client. A client leaves backoff once it has been quiet (no failure, no
// block) for a whole window; its entry is then forgotten.
//
// Bursts: begin() hands out verification slots, and a client may hold at most (max_failures -
// failures in the window) of them at once (one at a time while in backoff), so N guesses sent in
// parallel cannot outrun the count: the surplus is refused with "retry after 1 s".
//
// Memory: at most max_clients entries (plus, transiently, clients with verifications in flight);
// when full, stale entries are swept and then the least recently failing client is dropped.
//
// Thread-safety: all members are thread-safe (one shared_mutex; the common path — a client with no
// entry — takes it shared).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace onsen::auth {

struct ThrottleOptions {
  std::size_t max_failures = 5;             // failures within `window` that start a block
  std::chrono::seconds window{60};          // sliding window for counting failures
  std::chrono::seconds initial_backoff{1};  // first block
  std::chrono::seconds max_backoff{60};     // blocks double up to this
  std::size_t max_clients = 10000;          // table cap
};

class FailureThrottle {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit FailureThrottle(ThrottleOptions options = {});

  // The time `client` must still wait (rounded up, at least 1 s), or nullopt if it may try now.
  std::optional<std::chrono::seconds> blocked(std::string_view client, TimePoint now) const;

  // Reserves a slot for one verification by `client`. Returns nullopt when granted — then exactly
  // one end() must follow — or the time to wait when refused (blocked, or too many in flight).
  std::optional<std::chrono::seconds> begin(std::string_view client, TimePoint now);
  // Releases a slot from begin() and records the verification's outcome.
  void end(std::string_view client, bool success, TimePoint now);
  // Records an outcome that took no slot (a cache hit; a result shared with an identical
  // concurrent verification).
  void record(std::string_view client, bool success, TimePoint now);

  // Clients currently tracked.
  std::size_t size() const;

 private:
  struct State {
    std::deque<TimePoint> failures;  // within the window; at most max_failures kept
    TimePoint last_failure{};
    TimePoint blocked_until{};
    std::chrono::seconds backoff{0};  // 0: not in backoff
    std::size_t in_flight = 0;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, State, StringHash, std::equal_to<>>;

  bool stale(const State& state, TimePoint now) const;
  void prune(State& state, TimePoint now) const;  // drops failures older than the window
  static std::chrono::seconds wait(TimePoint until, TimePoint now);
  Map::iterator find_or_create(std::string_view client, TimePoint now);   // mu_ held exclusively
  void on_success(Map::iterator it);                                      // mu_ held exclusively
  void on_failure(std::string_view client, State& state, TimePoint now);  // mu_ held exclusively

  const ThrottleOptions options_;
  mutable std::shared_mutex mu_;
  Map clients_;  // guarded by mu_
};

}  // namespace onsen::auth
