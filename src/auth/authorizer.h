// The one question the API asks about access control: may this request do these things? An
// implementation (htpasswd's BasicAuthenticator today; a token or an ACL authorizer next) sees the
// request's credentials and the access records the API derived from the route and method, and
// answers with a Decision. It never sees the HTTP request itself, so a new method needs no edit of
// the API: only a new Authorizer and its wiring in cli/serve.cpp.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/access.h"
#include "auth/failure_throttle.h"

namespace onsen::auth {

enum class Verdict {
  kAllowed,          // Decision::user is the authenticated user ("" if anonymous access)
  kUnauthorized,     // answer 401 with WWW-Authenticate: challenge(access)
  kDenied,           // authenticated, but not allowed this access: answer 403 DENIED
  kTooManyRequests,  // answer 429 with Retry-After: Decision::retry_after
};

struct Decision {
  Verdict verdict = Verdict::kUnauthorized;
  std::string user;                                // set for kAllowed and kDenied
  std::chrono::seconds retry_after{0};             // set (>= 1 s) for kTooManyRequests
  ThrottleScope throttled = ThrottleScope::kUser;  // for kTooManyRequests: what is blocked
  // For kUnauthorized: the WWW-Authenticate value when it depends on the request (a token
  // authorizer's error="invalid_token" or "insufficient_scope", its autoredirect realm); empty:
  // challenge(access).
  std::string challenge{};

  bool allowed() const { return verdict == Verdict::kAllowed; }
};

// What an Authorizer may know of the request: its credentials and who sends them.
struct Credentials {
  std::string_view authorization;  // the Authorization header value; empty if absent
  std::string_view client;         // the client's address (no port), for throttling and logs
  std::string_view host = {};      // the Host header (a token challenge's autoredirect realm)
  std::string_view forwarded_proto = {};  // X-Forwarded-Proto, likewise; empty if absent
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // Decides on one request that needs `access` (empty: the base route, which asks only for
  // authentication). Thread-safe; never throws on anything a client can send.
  virtual Decision authorize(const Credentials& credentials, const std::vector<Access>& access) = 0;
  // The decision when it costs no blocking work (credentials verified before, none at all, a
  // blocked client); nullopt when authorize() must run, on a thread that may block (a bcrypt takes
  // tens of milliseconds). The API asks this first, on the I/O thread, so that authenticated
  // traffic does not pay a thread hop per request.
  virtual std::optional<Decision> decide_without_blocking(const Credentials& /*credentials*/,
                                                          const std::vector<Access>& /*access*/) {
    return std::nullopt;
  }
  // The WWW-Authenticate value of a 401 for `access`: a token authorizer names the scope the client
  // must obtain (Bearer realm="...",service="...",scope="repository:foo:pull,push"); Basic ignores
  // it.
  virtual std::string challenge(const std::vector<Access>& access) const = 0;
};

}  // namespace onsen::auth
