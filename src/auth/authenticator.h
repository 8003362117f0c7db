// HTTP Basic authentication against an htpasswd file of bcrypt hashes: Distribution's
// `auth: htpasswd` (REGISTRY_AUTH=htpasswd, REGISTRY_AUTH_HTPASSWD_REALM, _PATH). One Authorizer
// (authorizer.h): as in registry:2, every user in the file may do everything, so the access asked
// for is ignored and the verdict is never kDenied. Knows nothing of HTTP or registries: the caller
// passes the Authorization header value and a client key, and maps the Decision to a response
// (401 + WWW-Authenticate: challenge(), 429 + Retry-After, or proceed).
//
// check() in order:
//   1. At most once per reload_interval (1 s), stat(2) the file (on the request path: one
//      syscall; no thread). If it may have changed (base/watched_file.h: its identity changed, or
//      its last read was racy), it is read again; if the bytes differ, the new contents replace
//      the old under a new generation. A file that becomes unreadable or vanishes keeps the last
//      good contents (warning logged once).
//   2. Parse the header (basic_credentials.h). Missing or malformed: kUnauthorized, not counted
//      as a failure (clients probe without credentials first).
//   3. Cache (verification_cache.h): HMAC of the credentials, one shared-locked lookup. A hit for
//      the current generation is kAllowed — even for a throttled client (see check()). A password
//      refused before under the current file is kUnauthorized again, neither verified nor counted.
//   4. A blocked user name from this address, or a blocked address (failure_throttle.h), gets
//      kTooManyRequests; no bcrypt runs.
//   5. Otherwise bcrypt. Identical credentials being verified concurrently share one bcrypt (a
//      client opening several connections at once costs one). Unknown users run a bcrypt against
//      a dummy setting of the file's typical cost, so response time does not tell which users
//      exist. Outcomes are cached; failures are counted against the client's address and the user
//      name it claimed (a concurrent identical request shares the leader's outcome, and its
//      failure is not counted twice).
// Logs name users and client keys (escaped), never passwords or hashes.
//
// Deliberate differences from registry:2: a missing file is a startup error (Distribution 2.7+
// instead creates one with a random "docker" user and logs its password); a bad line is skipped
// with a warning instead of failing the whole file; a duplicate user keeps its first entry; the
// file is re-read when it changes; failures are throttled (registry:2 has no throttling).
//
// Thread-safety: BasicAuthenticator is thread-safe; call check() from any number of threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/authorizer.h"
#include "auth/failure_throttle.h"
#include "auth/htpasswd.h"
#include "auth/verification_cache.h"
#include "base/watched_file.h"

namespace onsen::auth {

struct AuthenticatorOptions {
  std::chrono::milliseconds reload_interval{1000};  // how often check() may stat the file
  std::size_t cache_capacity = 10000;               // verification cache entries
  ThrottleOptions throttle;                         // failure throttling policy
  // Monotonic time for reload pacing and throttling; empty: std::chrono::steady_clock::now.
  // Tests inject a fake clock here.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

class BasicAuthenticator final : public Authorizer {
 public:
  // Loads `htpasswd_path` now. Throws std::runtime_error naming the path if it is missing or
  // unreadable. Bad lines are not fatal: each is refused with a logged warning.
  BasicAuthenticator(std::string realm, std::string htpasswd_path,
                     AuthenticatorOptions options = {});
  ~BasicAuthenticator();
  BasicAuthenticator(const BasicAuthenticator&) = delete;
  BasicAuthenticator& operator=(const BasicAuthenticator&) = delete;

  // Decides on one request. `authorization_header` is the Authorization header value (empty if
  // absent); `client_key` identifies the client's address for throttling (e.g. its IP). Never
  // throws on anything a client can send.
  Decision check(std::string_view authorization_header, std::string_view client_key);
  // check()'s answer when it needs no bcrypt (a cached verification or refusal, no or malformed
  // credentials, a blocked client); nullopt when check() would run one.
  std::optional<Decision> check_without_bcrypt(std::string_view authorization_header,
                                               std::string_view client_key);

  // Authorizer: check(), whatever the access.
  Decision authorize(const Credentials& credentials, const std::vector<Access>&) override {
    return check(credentials.authorization, credentials.client);
  }
  std::optional<Decision> decide_without_blocking(const Credentials& credentials,
                                                  const std::vector<Access>&) override {
    return check_without_bcrypt(credentials.authorization, credentials.client);
  }
  std::string challenge(const std::vector<Access>&) const override { return challenge_; }

  // The WWW-Authenticate value for 401 responses: Basic realm="<realm>", the realm verbatim as
  // configured with '"' and '\' (and control characters) escaped as Go's %q does — registry:2
  // writes the same bytes.
  std::string challenge() const { return challenge_; }
  const std::string& realm() const { return realm_; }

  // Checks the file now (regardless of the interval); true if new contents were loaded. Never
  // throws: read errors keep the last good contents. For SIGHUP handlers and tests.
  bool reload();

  struct Stats {
    std::uint64_t bcrypt_runs = 0;  // verifications that ran bcrypt (dummy ones included)
    std::uint64_t cache_hits = 0;
    std::size_t cache_entries = 0;
    std::size_t throttled_clients = 0;  // throttle keys with failures on record
    std::uint64_t generation = 0;       // bumped on every change of the file's contents
    std::size_t users = 0;              // usable entries in the current contents
  };
  Stats stats() const;

 private:
  struct Snapshot {
    HtpasswdFile file;
    std::uint64_t generation;
    std::string dummy_setting;  // bcrypt setting for unknown users, at file.typical_cost()
  };
  struct Flight;  // one in-progress bcrypt shared by identical concurrent requests

  std::chrono::steady_clock::time_point now() const;
  void maybe_reload(std::chrono::steady_clock::time_point now);
  bool reload_locked(bool initial);  // reload_mu_ held; throws only if `initial`
  bool load_locked(bool initial);    // reload_mu_ held; may throw
  std::shared_ptr<const Snapshot> snapshot() const;
  Decision verify(const std::string& user, const std::string& password,
                  const VerificationCache::Key& key, std::string_view client_key);

  const std::string realm_;
  const std::string challenge_;
  const AuthenticatorOptions options_;

  mutable std::shared_mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // guarded by snapshot_mu_
  std::atomic<std::uint64_t> generation_{0};  // == snapshot_->generation

  std::mutex reload_mu_;  // serializes reloads; guards the fields below
  base::WatchedFile file_;
  std::string content_digest_;  // SHA-256 of the loaded bytes
  std::string last_error_;      // last logged read error, to log each problem once
  std::atomic<std::int64_t> next_check_ns_{0};

  VerificationCache cache_;
  FailureThrottle throttle_;

  std::mutex flights_mu_;
  std::unordered_map<VerificationCache::Key, std::shared_ptr<Flight>, VerificationCache::KeyHash>
      flights_;  // guarded by flights_mu_

  std::atomic<std::uint64_t> bcrypt_runs_{0};
  std::atomic<std::uint64_t> cache_hits_{0};
};

}  // namespace onsen::auth
