#include "auth/failure_throttle.h"

#include <algorithm>
#include <mutex>

#include <spdlog/spdlog.h>

#include "auth/log_text.h"

namespace onsen::auth {

FailureThrottle::FailureThrottle(ThrottleOptions options) : options_(options) {}

bool FailureThrottle::stale(const State& state, TimePoint now) const {
  return state.in_flight == 0 &&
         now >= std::max(state.blocked_until, state.last_failure) + options_.window;
}

std::chrono::seconds FailureThrottle::wait(TimePoint until, TimePoint now) {
  auto left = std::chrono::ceil<std::chrono::seconds>(until - now);
  return std::max(left, std::chrono::seconds(1));
}

std::optional<std::chrono::seconds> FailureThrottle::blocked(std::string_view client,
                                                             TimePoint now) const {
  std::shared_lock lock(mu_);
  auto it = clients_.find(client);
  if (it == clients_.end() || it->second.blocked_until <= now) return std::nullopt;
  return wait(it->second.blocked_until, now);
}

std::optional<std::chrono::seconds> FailureThrottle::begin(std::string_view client, TimePoint now) {
  std::unique_lock lock(mu_);
  State& state = find_or_create(client, now)->second;
  if (state.blocked_until > now) return wait(state.blocked_until, now);
  prune(state, now);
  bool full = state.backoff.count() > 0  // in backoff: one attempt at a time
                  ? state.in_flight >= 1
                  : state.failures.size() + state.in_flight >= options_.max_failures;
  if (full) return std::chrono::seconds(1);
  ++state.in_flight;
  return std::nullopt;
}

void FailureThrottle::end(std::string_view client, bool success, TimePoint now) {
  std::unique_lock lock(mu_);
  auto it = clients_.find(client);
  if (it == clients_.end()) {  // dropped while in flight (only under table pressure)
    if (!success) on_failure(client, find_or_create(client, now)->second, now);
    return;
  }
  if (it->second.in_flight > 0) --it->second.in_flight;
  if (success) {
    on_success(it);
  } else {
    on_failure(client, it->second, now);
  }
}

void FailureThrottle::record(std::string_view client, bool success, TimePoint now) {
  if (success) {
    {
      std::shared_lock lock(mu_);
      if (clients_.find(client) == clients_.end()) return;  // the common case: nothing to reset
    }
    std::unique_lock lock(mu_);
    auto it = clients_.find(client);
    if (it != clients_.end()) on_success(it);
    return;
  }
  std::unique_lock lock(mu_);
  on_failure(client, find_or_create(client, now)->second, now);
}

std::size_t FailureThrottle::size() const {
  std::shared_lock lock(mu_);
  return clients_.size();
}

FailureThrottle::Map::iterator FailureThrottle::find_or_create(std::string_view client,
                                                               TimePoint now) {
  auto it = clients_.find(client);
  if (it != clients_.end()) {
    if (stale(it->second, now)) it->second = State{};  // quiet for a window: a fresh start
    return it;
  }
  if (clients_.size() >= options_.max_clients) {
    std::erase_if(clients_, [&](const auto& entry) { return stale(entry.second, now); });
  }
  if (clients_.size() >= options_.max_clients) {
    // Still full of active clients: drop the one whose last failure is oldest.
    auto victim = clients_.end();
    for (auto candidate = clients_.begin(); candidate != clients_.end(); ++candidate) {
      if (candidate->second.in_flight == 0 &&
          (victim == clients_.end() ||
           candidate->second.last_failure < victim->second.last_failure)) {
        victim = candidate;
      }
    }
    if (victim != clients_.end()) clients_.erase(victim);
  }
  return clients_.try_emplace(std::string(client)).first;
}

void FailureThrottle::on_success(Map::iterator it) {
  State& state = it->second;
  if (state.in_flight == 0) {
    clients_.erase(it);
    return;
  }
  std::size_t in_flight = state.in_flight;
  state = State{};
  state.in_flight = in_flight;
}

void FailureThrottle::prune(State& state, TimePoint now) const {
  while (!state.failures.empty() && state.failures.front() + options_.window <= now) {
    state.failures.pop_front();
  }
}

void FailureThrottle::on_failure(std::string_view client, State& state, TimePoint now) {
  prune(state, now);
  state.failures.push_back(now);
  while (state.failures.size() > options_.max_failures) state.failures.pop_front();
  state.last_failure = now;
  if (state.backoff.count() > 0) {
    state.backoff = std::min(state.backoff * 2, options_.max_backoff);
  } else if (state.failures.size() >= options_.max_failures) {
    state.backoff = std::min(options_.initial_backoff, options_.max_backoff);
  } else {
    return;
  }
  state.blocked_until = now + state.backoff;
  spdlog::warn("auth: client '{}' blocked for {}s after repeated authentication failures",
               loggable(client), state.backoff.count());
}

}  // namespace onsen::auth
