// Api::respond, Api::authorize and Api::denial: asking the Authorizer about a request's access
// records, the answer when it says no, else the handler's answer or its error. (Apart from
// api.cpp, whose coroutines GCC 12 then inlines into a -Wmismatched-new-delete false positive.)
#include "api/api.h"

#include "api/errors.h"
#include "api/responses.h"

namespace onsen::api {

std::optional<http::Response> Api::denial(const auth::Decision& decision,
                                          const std::vector<auth::Access>& access) const {
  switch (decision.verdict) {
    case auth::Verdict::kAllowed:
      return std::nullopt;
    case auth::Verdict::kUnauthorized: {
      auto res = error_response(registry::ErrorCode::kUnauthorized, "authentication required");
      res.headers.set("WWW-Authenticate", decision.challenge.empty()
                                              ? authorizer_->challenge(access)
                                              : decision.challenge);
      return res;
    }
    case auth::Verdict::kDenied:
      // Distribution's message for DENIED.
      return error_response(registry::ErrorCode::kDenied,
                            "requested access to the resource is denied");
    case auth::Verdict::kTooManyRequests: {
      // Said so that the person reading the client's error knows whom it concerns and when to
      // come back (the Retry-After header says the same to programs).
      std::string message = decision.throttled == auth::ThrottleScope::kAddress
                                ? "too many failed logins from this address"
                                : "too many failed logins for this user from this address";
      message += "; retry after " + std::to_string(decision.retry_after.count()) + " s";
      auto res = error_response(registry::ErrorCode::kTooManyRequests, message);
      res.headers.set("Retry-After", std::to_string(decision.retry_after.count()));
      return res;
    }
  }
  return std::nullopt;
}

void Api::count_outcome(const auth::Decision& decision, const auth::Credentials& credentials) {
  switch (decision.verdict) {
    case auth::Verdict::kAllowed:
      auth_outcomes_.count(AuthOutcomes::kSuccess);
      return;
    case auth::Verdict::kUnauthorized:
      auth_outcomes_.count(credentials.authorization.empty() ? AuthOutcomes::kChallenged
                                                             : AuthOutcomes::kFailure);
      return;
    case auth::Verdict::kDenied:
      auth_outcomes_.count(AuthOutcomes::kDenied);
      return;
    case auth::Verdict::kTooManyRequests:
      auth_outcomes_.count(AuthOutcomes::kThrottled);
      return;
  }
}

boost::asio::awaitable<std::optional<http::Response>> Api::authorize(
    http::Request& req, const std::vector<auth::Access>& access, std::string* user) {
  if (!authorizer_) co_return std::nullopt;
  // Throttling keys on the address (not the port); unix-socket clients share one key.
  std::string_view client =
      req.peer.unix_socket() ? std::string_view("unix") : std::string_view(req.peer.address);
  const auth::Credentials credentials{req.headers.get("Authorization").value_or(""), client,
                                      req.headers.get("Host").value_or(""),
                                      req.headers.get("X-Forwarded-Proto").value_or("")};
  // Decided on the I/O thread when that costs nothing (a verification cached); only a bcrypt
  // (tens of milliseconds) goes to the pool.
  auto decision = authorizer_->decide_without_blocking(credentials, access);
  if (!decision) {
    co_await pool_.run_function([&] { decision = authorizer_->authorize(credentials, access); });
  }
  count_outcome(*decision, credentials);
  req.user = decision->user;  // for the access log
  if (decision->allowed()) *user = std::move(decision->user);
  co_return denial(*decision, access);
}

boost::asio::awaitable<http::Response> Api::respond(http::Request& req,
                                                    const std::vector<auth::Access>& access,
                                                    boost::asio::awaitable<http::Response> work,
                                                    RequestEvents* events) {
  std::string user;
  auto denied = co_await authorize(req, access, &user);
  if (events) events->set_actor(std::move(user));
  if (denied) co_return finish_response(req, std::move(*denied), true);
  std::optional<registry::Error> failure;
  http::Response res;
  try {
    res = co_await std::move(work);
  } catch (const registry::Error& e) {
    failure = e;
  } catch (const storage::Error& e) {
    failure = storage_failure(req, e);
  }
  co_return finish_response(req, failure ? error_response(*failure) : std::move(res),
                            failure.has_value());
}

}  // namespace onsen::api
