#include "auth/authenticator.h"

#include <condition_variable>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>

#include "auth/basic_credentials.h"
#include "auth/go_quote.h"
#include "auth/log_text.h"
#include "auth/sha256.h"

namespace onsen::auth {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::uint64_t kMaxFileSize = 64 << 20;  // far beyond any real htpasswd file

// The realm quoted as Go's %q quotes it (registry:2 writes its challenge so).
std::string make_challenge(std::string_view realm) {
  return "Basic realm=" + go_quote(realm);
}

Decision refused_by(const ThrottleBlock& block) {
  return Decision{Verdict::kTooManyRequests, {}, block.retry_after, block.scope};
}

}  // namespace

struct BasicAuthenticator::Flight {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu
  bool ok = false;    // guarded by mu
};

BasicAuthenticator::BasicAuthenticator(std::string realm, std::string htpasswd_path,
                                       AuthenticatorOptions options)
    : realm_(std::move(realm)),
      challenge_(make_challenge(realm_)),
      options_(std::move(options)),
      file_(std::move(htpasswd_path)),
      cache_(options_.cache_capacity),
      throttle_(options_.throttle) {
  std::lock_guard lock(reload_mu_);
  reload_locked(/*initial=*/true);  // throws if unreadable
  next_check_ns_.store((now() + options_.reload_interval).time_since_epoch().count());
}

BasicAuthenticator::~BasicAuthenticator() = default;

SteadyClock::time_point BasicAuthenticator::now() const {
  return options_.clock ? options_.clock() : SteadyClock::now();
}

std::shared_ptr<const BasicAuthenticator::Snapshot> BasicAuthenticator::snapshot() const {
  std::shared_lock lock(snapshot_mu_);
  return snapshot_;
}

void BasicAuthenticator::maybe_reload(SteadyClock::time_point at) {
  std::int64_t t =
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  std::int64_t next = next_check_ns_.load(std::memory_order_relaxed);
  if (t < next) return;
  std::int64_t interval =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.reload_interval).count();
  // One request wins the check; the others go on with the current contents.
  if (!next_check_ns_.compare_exchange_strong(next, t + interval)) return;
  std::unique_lock lock(reload_mu_, std::try_to_lock);
  if (lock.owns_lock()) reload_locked(/*initial=*/false);
}

bool BasicAuthenticator::reload() {
  std::lock_guard lock(reload_mu_);
  return reload_locked(/*initial=*/false);
}

bool BasicAuthenticator::reload_locked(bool initial) {
  try {
    return load_locked(initial);
  } catch (const std::exception& e) {
    if (initial) throw;
    spdlog::warn("auth: reloading htpasswd file {} failed: {}; keeping the last good contents",
                 file_.path(), e.what());
    return false;
  }
}

bool BasicAuthenticator::load_locked(bool initial) {
  auto fail = [&](const std::string& error) {
    if (initial) throw std::runtime_error("htpasswd file " + file_.path() + ": " + error);
    if (error != last_error_) {
      spdlog::warn("auth: cannot read htpasswd file {}: {}; keeping the last good contents",
                   file_.path(), error);
      last_error_ = error;
    }
    return false;
  };

  if (!initial) {
    base::FileStamp seen = file_.stamp();
    if (seen.error != 0) return fail(std::strerror(seen.error));
    if (!file_.may_have_changed(seen)) {
      last_error_.clear();
      return false;
    }
  }

  std::string bytes;
  std::string error;
  base::FileStamp stamp;
  if (!file_.read(bytes, stamp, error, kMaxFileSize)) return fail(error);
  if (!last_error_.empty()) {
    spdlog::info("auth: htpasswd file {} is readable again", file_.path());
    last_error_.clear();
  }
  std::string digest = sha256_bytes(bytes);
  if (!initial && digest == content_digest_) {  // touched, not changed
    file_.accept(stamp);
    return false;
  }

  auto next = std::make_shared<Snapshot>();
  next->file = HtpasswdFile::parse(bytes);
  secure_wipe(bytes);
  next->dummy_setting = bcrypt_setting(next->file.typical_cost());
  for (const auto& warning : next->file.warnings()) {
    spdlog::warn("auth: htpasswd file {}: {}", file_.path(), warning);
  }
  if (next->file.size() == 0) {
    spdlog::warn("auth: htpasswd file {} has no usable (bcrypt) entries; every login will fail",
                 file_.path());
  }
  {
    std::unique_lock lock(snapshot_mu_);
    next->generation = snapshot_ ? snapshot_->generation + 1 : 1;
    snapshot_ = next;
    generation_.store(next->generation, std::memory_order_release);
  }
  // Only now that the new contents are live: a failure above leaves the old stamp, so the next
  // check tries again.
  file_.accept(stamp);
  content_digest_ = std::move(digest);
  cache_.clear();  // entries of older generations can no longer hit; free them
  spdlog::info("auth: {} htpasswd file {}: {} user(s)", initial ? "loaded" : "reloaded",
               file_.path(), next->file.size());
  return true;
}

std::optional<Decision> BasicAuthenticator::check_without_bcrypt(
    std::string_view authorization_header, std::string_view client_key) {
  auto at = now();
  maybe_reload(at);
  if (authorization_header.empty()) return Decision{};

  auto credentials = parse_basic_authorization(authorization_header);
  if (!credentials) {
    spdlog::debug("auth: malformed Authorization header from client '{}'", loggable(client_key));
    return Decision{};
  }
  // Credentials that already verified under this file are let through even while the client is
  // throttled: a guesser behind the same address (a NAT, a CI runner) must not lock out the
  // clients that are logged in, and a cache hit costs no bcrypt and reveals nothing new. Hits do
  // not reset the throttle either, so they cannot launder a guesser's failures.
  VerificationCache::Key key = cache_.key_for(credentials->user, credentials->password);
  const std::uint64_t generation = generation_.load(std::memory_order_acquire);
  auto cached = cache_.lookup(key, generation);
  if (cached && *cached == credentials->user) {
    cache_hits_.fetch_add(1, std::memory_order_relaxed);
    return Decision{Verdict::kAllowed, std::move(*cached), {}};
  }
  // A password refused before under this file: the same answer, no bcrypt, and not counted as a
  // new guess (it tells the client nothing it did not know). Clients configured with a stale
  // password repeat it on every request and retry; counting each would block them for nothing.
  if (cache_.refused(key, generation)) {
    cache_hits_.fetch_add(1, std::memory_order_relaxed);
    return Decision{};
  }
  if (auto block = throttle_.blocked(client_key, credentials->user, at)) {
    return refused_by(*block);
  }
  return std::nullopt;
}

Decision BasicAuthenticator::check(std::string_view authorization_header,
                                   std::string_view client_key) {
  if (auto decided = check_without_bcrypt(authorization_header, client_key)) return *decided;
  // Parsed and keyed again: cheap next to the bcrypt that follows.
  auto credentials = parse_basic_authorization(authorization_header);
  return verify(credentials->user, credentials->password,
                cache_.key_for(credentials->user, credentials->password), client_key);
}

Decision BasicAuthenticator::verify(const std::string& user, const std::string& password,
                                    const VerificationCache::Key& key,
                                    std::string_view client_key) {
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard lock(flights_mu_);
    auto it = flights_.find(key);
    if (it != flights_.end()) {
      flight = it->second;
    } else {
      if (auto block = throttle_.begin(client_key, user, now())) {
        return refused_by(*block);
      }
      flight = std::make_shared<Flight>();
      flights_.emplace(key, flight);
      leader = true;
    }
  }

  bool ok = false;
  if (leader) {
    // Whatever happens (even an exception), the flight is finished and the slot released.
    struct Finish {
      BasicAuthenticator& self;
      const VerificationCache::Key& key;
      Flight& flight;
      std::string_view client_key;
      const std::string& user;
      bool& ok;
      ~Finish() {
        {
          std::lock_guard lock(self.flights_mu_);
          self.flights_.erase(key);
        }
        {
          std::lock_guard lock(flight.mu);
          flight.done = true;
          flight.ok = ok;
        }
        flight.cv.notify_all();
        self.throttle_.end(client_key, user, ok, self.now());
      }
    } finish{*this, key, *flight, client_key, user, ok};

    auto current = snapshot();
    const HtpasswdFile::Entry* entry = current->file.find(user);
    if (entry != nullptr) {
      ok = verify_bcrypt(password, entry->hash);
    } else {
      verify_bcrypt(password, current->dummy_setting);  // same cost, always false
    }
    bcrypt_runs_.fetch_add(1, std::memory_order_relaxed);
    if (ok) {
      cache_.insert(key, user, current->generation);
    } else {
      cache_.insert_refused(key, current->generation);
    }
    if (ok) {
      spdlog::debug("auth: user '{}' authenticated from client '{}'", loggable(user),
                    loggable(client_key));
    } else {
      spdlog::info("auth: authentication failed for {} user '{}' from client '{}'",
                   entry != nullptr ? "known" : "unknown", loggable(user), loggable(client_key));
    }
  } else {
    {
      std::unique_lock lock(flight->mu);
      flight->cv.wait(lock, [&] { return flight->done; });
      ok = flight->ok;
    }
    if (ok) throttle_.record_success(client_key, user);
    if (!ok) {
      spdlog::info("auth: authentication failed for user '{}' from client '{}'", loggable(user),
                   loggable(client_key));
    }
  }
  if (!ok) return {};
  return Decision{Verdict::kAllowed, user, {}};
}

BasicAuthenticator::Stats BasicAuthenticator::stats() const {
  Stats stats;
  stats.bcrypt_runs = bcrypt_runs_.load(std::memory_order_relaxed);
  stats.cache_hits = cache_hits_.load(std::memory_order_relaxed);
  stats.cache_entries = cache_.size();
  stats.throttled_clients = throttle_.size();
  auto current = snapshot();
  stats.generation = current->generation;
  stats.users = current->file.size();
  return stats;
}

}  // namespace onsen::auth
