#include "auth/failure_throttle.h"

#include <algorithm>
#include <mutex>

#include <spdlog/spdlog.h>

#include "auth/log_text.h"

namespace onsen::auth {

namespace {

// A Basic header may carry a user name of kilobytes: only its first bytes go into the key, so that
// a table of max_clients keys stays small. Longer names that share them share a key, which only
// makes their throttling stricter (real user names are far shorter).
constexpr std::size_t kMaxUserBytes = 256;

std::string user_key(std::string_view address, std::string_view user) {
  std::string key(address);
  key += '\0';
  key += user.substr(0, kMaxUserBytes);
  return key;
}

// "user 'alice' from client '10.0.0.1'" or "client '10.0.0.1'", for the log.
std::string describe_key(std::string_view key) {
  auto nul = key.find('\0');
  if (nul == std::string_view::npos) return "client '" + loggable(key) + "'";
  return "user '" + loggable(key.substr(nul + 1)) + "' from client '" +
         loggable(key.substr(0, nul)) + "'";
}

}  // namespace

FailureThrottle::FailureThrottle(ThrottleOptions options)
    : options_(options),
      users_{options.max_failures, ThrottleScope::kUser, {}},
      addresses_{options.max_address_failures, ThrottleScope::kAddress, {}} {}

bool FailureThrottle::stale(const State& state, TimePoint now) const {
  return state.in_flight == 0 &&
         now >= std::max(state.blocked_until, state.last_failure) + options_.window;
}

std::optional<ThrottleBlock> FailureThrottle::refusal(const Table& table, std::string_view key,
                                                      TimePoint now) const {
  if (!enabled(table)) return std::nullopt;
  auto it = table.keys.find(key);
  if (it == table.keys.end()) return std::nullopt;
  const State& state = it->second;
  if (state.blocked_until > now) {
    auto left = std::chrono::ceil<std::chrono::seconds>(state.blocked_until - now);
    return ThrottleBlock{std::max(left, std::chrono::seconds(1)), table.scope};
  }
  return std::nullopt;
}

std::optional<ThrottleBlock> FailureThrottle::blocked(std::string_view address,
                                                      std::string_view user, TimePoint now) const {
  if (options_.max_failures == 0) return std::nullopt;
  std::shared_lock lock(mu_);
  if (auto block = refusal(addresses_, address, now)) return block;
  return refusal(users_, user_key(address, user), now);
}

std::optional<ThrottleBlock> FailureThrottle::begin(std::string_view address, std::string_view user,
                                                    TimePoint now) {
  if (options_.max_failures == 0) return std::nullopt;
  const std::string key = user_key(address, user);
  std::unique_lock lock(mu_);
  // Both tables must grant before either slot is taken.
  for (auto [table, k] : {std::pair<Table*, std::string_view>{&addresses_, address},
                          std::pair<Table*, std::string_view>{&users_, key}}) {
    if (!enabled(*table)) continue;
    if (auto block = refusal(*table, k, now)) return block;
    auto it = table->keys.find(k);
    if (it == table->keys.end()) continue;
    State& state = it->second;
    if (stale(state, now)) continue;  // find_or_create below starts it afresh
    prune(state, now);
    bool full = state.backoff.count() > 0  // in backoff: one attempt at a time
                    ? state.in_flight >= 1
                    : state.failures.size() + state.in_flight >= table->limit;
    if (full) return ThrottleBlock{std::chrono::seconds(1), table->scope};
  }
  for (auto [table, k] : {std::pair<Table*, std::string_view>{&addresses_, address},
                          std::pair<Table*, std::string_view>{&users_, key}}) {
    if (enabled(*table)) ++find_or_create(*table, k, now)->second.in_flight;
  }
  return std::nullopt;
}

void FailureThrottle::end(std::string_view address, std::string_view user, bool success,
                          TimePoint now) {
  if (options_.max_failures == 0) return;
  std::unique_lock lock(mu_);
  if (enabled(addresses_)) release(addresses_, address, success, now);
  release(users_, user_key(address, user), success, now);
}

void FailureThrottle::release(Table& table, std::string_view key, bool success, TimePoint now) {
  auto it = table.keys.find(key);
  if (it == table.keys.end()) {  // dropped while in flight (only under table pressure)
    if (!success) on_failure(table, key, find_or_create(table, key, now)->second, now);
    return;
  }
  State& state = it->second;
  if (state.in_flight > 0) --state.in_flight;
  if (!success) {
    on_failure(table, key, state, now);
  } else if (table.scope == ThrottleScope::kUser) {  // the address keeps its count
    reset(table.keys, it);
  } else if (state.in_flight == 0 && state.failures.empty() && state.backoff.count() == 0) {
    table.keys.erase(it);  // nothing on record
  }
}

void FailureThrottle::reset(Map& keys, Map::iterator it) {
  if (it->second.in_flight == 0) {
    keys.erase(it);
    return;
  }
  std::size_t in_flight = it->second.in_flight;
  it->second = State{};
  it->second.in_flight = in_flight;
}

void FailureThrottle::record_success(std::string_view address, std::string_view user) {
  if (options_.max_failures == 0) return;
  const std::string key = user_key(address, user);
  {
    std::shared_lock lock(mu_);
    if (users_.keys.find(key) == users_.keys.end()) return;  // the common case: nothing to reset
  }
  std::unique_lock lock(mu_);
  auto it = users_.keys.find(key);
  if (it != users_.keys.end()) reset(users_.keys, it);
}

std::size_t FailureThrottle::size() const {
  std::shared_lock lock(mu_);
  return users_.keys.size() + addresses_.keys.size();
}

FailureThrottle::Map::iterator FailureThrottle::find_or_create(Table& table, std::string_view key,
                                                               TimePoint now) {
  Map& keys = table.keys;
  auto it = keys.find(key);
  if (it != keys.end()) {
    if (stale(it->second, now)) it->second = State{};  // quiet for a window: a fresh start
    return it;
  }
  if (keys.size() >= options_.max_clients) {
    std::erase_if(keys, [&](const auto& entry) { return stale(entry.second, now); });
  }
  if (keys.size() >= options_.max_clients) {
    // Still full of active keys: drop the one whose last failure is oldest.
    auto victim = keys.end();
    for (auto candidate = keys.begin(); candidate != keys.end(); ++candidate) {
      if (candidate->second.in_flight == 0 &&
          (victim == keys.end() || candidate->second.last_failure < victim->second.last_failure)) {
        victim = candidate;
      }
    }
    if (victim != keys.end()) keys.erase(victim);
  }
  return keys.try_emplace(std::string(key)).first;
}

void FailureThrottle::prune(State& state, TimePoint now) const {
  while (!state.failures.empty() && state.failures.front() + options_.window <= now) {
    state.failures.pop_front();
  }
}

void FailureThrottle::on_failure(const Table& table, std::string_view key, State& state,
                                 TimePoint now) {
  prune(state, now);
  state.failures.push_back(now);
  while (state.failures.size() > table.limit) state.failures.pop_front();
  state.last_failure = now;
  if (state.backoff.count() > 0) {
    state.backoff = std::min(state.backoff * 2, options_.max_backoff);
  } else if (state.failures.size() >= table.limit) {
    state.backoff = std::min(options_.initial_backoff, options_.max_backoff);
  } else {
    return;
  }
  state.blocked_until = now + state.backoff;
  spdlog::warn("auth: {} blocked for {}s after {} failed logins within {}s", describe_key(key),
               state.backoff.count(), state.failures.size(), options_.window.count());
}

}  // namespace onsen::auth
