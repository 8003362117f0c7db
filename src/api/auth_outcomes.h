// How the Authorizer's decisions came out, counted by the API (metrics): the authorizer may be
// any implementation, the API sees every decision. Relaxed atomics: one increment per request
// that asks.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace onsen::api {

class AuthOutcomes {
 public:
  enum Outcome : unsigned {
    kSuccess,     // allowed with valid credentials (or anonymous access the authorizer allows)
    kChallenged,  // 401 to a request without credentials: a client's usual first request
    kFailure,     // 401 to a request with credentials: wrong user or password
    kDenied,      // 403: authenticated, not allowed
    kThrottled,   // 429: too many failures from the address or for the user
    kCount
  };
  static constexpr std::array<std::string_view, kCount> kNames = {"success", "challenged",
                                                                  "failure", "denied", "throttled"};

  void count(Outcome o) { counts_[o].fetch_add(1, std::memory_order_relaxed); }
  uint64_t get(Outcome o) const { return counts_[o].load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kCount> counts_{};
};

}  // namespace onsen::api
