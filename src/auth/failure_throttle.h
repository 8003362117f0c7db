// Slows down password guessing and bcrypt floods, without turning one user's typo into a lockout
// of everybody behind the same address (a NAT, a CI runner, a reverse proxy on loopback).
//
// Keys: failures are counted twice, under the client's address (opaque here: an IP address, or
// whatever the caller identifies a client by) together with the user name it claimed, and under
// the address alone:
//   - per address and user, `max_failures` (30) within `window` (3 min) block that user name from
//     that address — GitLab's figures for its failed-authentication ban. A person who mistypes a
//     password, or a client that fires several requests with a stale one, stays far below.
//   - per address, all user names together, `max_address_failures` (100) within the window block
//     the address for every name. Without this cap a flood of distinct random user names from one
//     address would get 30 bcrypt runs per name, i.e. unbounded CPU. The alternative — counting
//     failures for unknown users under the address alone — was rejected: whether a name is
//     throttled with the others would then tell an attacker which names exist, which the
//     authenticator's dummy bcrypt for unknown users is there to hide. The keys here depend only
//     on what the client sent. 100 is more than three users' worth of scripts retrying a wrong
//     password until blocked, and still bounds bcrypt work to about one run every 2 s per address.
// A verified success resets its (address, user) key only: logging in with one account does not
// launder the guesses made for another, nor the address's count.
//
// Blocking: a key that reaches its limit is blocked for initial_backoff (1 s); every further
// failure while it is in backoff doubles the block, up to max_backoff (60 s). Blocked keys get
// "retry after N s" without any verification running. A key leaves backoff once it has been quiet
// (no failure, no block) for a whole window; its entry is then forgotten.
//
// Bursts: begin() hands out verification slots, and a key may hold at most (limit - failures in
// the window) of them at once (one at a time while in backoff), so N guesses sent in parallel
// cannot outrun the count. With the default figures a client's burst of parallel requests (docker,
// ctr and podman open several connections at once) is far below that and is never refused.
//
// Turning it off: max_failures == 0 disables throttling entirely; max_address_failures == 0 only
// the per-address cap. No address is exempt (GitLab exempts loopback): Onsen does not read
// X-Forwarded-For, so behind a reverse proxy on the same host every client is a loopback client,
// and an exemption would silently switch the protection off exactly there.
//
// Memory: each table (per address and user; per address) holds at most max_clients entries (plus,
// transiently, keys with verifications in flight); when full, stale entries are swept and then
// the least recently failing key is dropped. Only the first 256 bytes of a user name go into a
// key.
//
// Thread-safety: all members are thread-safe (one shared_mutex; the common path — a key with no
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
  std::size_t max_failures = 30;            // per address and user within `window`; 0: no throttle
  std::size_t max_address_failures = 100;   // per address, all users; 0: no per-address cap
  std::chrono::seconds window{180};         // sliding window for counting failures
  std::chrono::seconds initial_backoff{1};  // first block
  std::chrono::seconds max_backoff{60};     // blocks double up to this
  std::size_t max_clients = 10000;          // cap of each table
};

// What a refusal applies to: the user name from this address, or the whole address.
enum class ThrottleScope { kUser, kAddress };

struct ThrottleBlock {
  std::chrono::seconds retry_after{1};  // rounded up, at least 1 s
  ThrottleScope scope = ThrottleScope::kUser;
  friend bool operator==(const ThrottleBlock&, const ThrottleBlock&) = default;
};

class FailureThrottle {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit FailureThrottle(ThrottleOptions options = {});

  // The block `user` from `address` is under, or nullopt if it may try now.
  std::optional<ThrottleBlock> blocked(std::string_view address, std::string_view user,
                                       TimePoint now) const;

  // Reserves a slot for one verification. Returns nullopt when granted — then exactly one end()
  // must follow — or the block when refused (blocked, or too many in flight).
  std::optional<ThrottleBlock> begin(std::string_view address, std::string_view user,
                                     TimePoint now);
  // Releases a slot from begin() and records the verification's outcome.
  void end(std::string_view address, std::string_view user, bool success, TimePoint now);
  // Records a success that took no slot (a result shared with an identical concurrent
  // verification). Failures without a slot are not recorded: they repeat a guess already counted
  // and cost no bcrypt.
  void record_success(std::string_view address, std::string_view user);

  // Keys with failures on record (both tables).
  std::size_t size() const;

 private:
  struct State {
    std::deque<TimePoint> failures;  // within the window; at most the limit kept
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
  // One table of keys and the limit that blocks them. Callers hold mu_ (shared for the const
  // members, exclusively for the others).
  struct Table {
    std::size_t limit;
    ThrottleScope scope;
    Map keys;
  };

  bool enabled(const Table& table) const { return options_.max_failures > 0 && table.limit > 0; }
  bool stale(const State& state, TimePoint now) const;
  void prune(State& state, TimePoint now) const;  // drops failures older than the window
  std::optional<ThrottleBlock> refusal(const Table& table, std::string_view key,
                                       TimePoint now) const;
  Map::iterator find_or_create(Table& table, std::string_view key, TimePoint now);
  void release(Table& table, std::string_view key, bool success, TimePoint now);
  void reset(Map& keys, Map::iterator it);  // forgets the key's failures (keeps its slots)
  void on_failure(const Table& table, std::string_view key, State& state, TimePoint now);

  const ThrottleOptions options_;
  mutable std::shared_mutex mu_;
  Table users_;      // key: address '\0' user (an address holds no NUL); guarded by mu_
  Table addresses_;  // key: address; guarded by mu_
};

}  // namespace onsen::auth
