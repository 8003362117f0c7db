#include "api/api.h"

#include "api/access.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "api/responses.h"
#include "storage/driver.h"

#include <spdlog/spdlog.h>

namespace onsen::api {

namespace {

using Kind = Route::Kind;

http::Response method_not_allowed() {
  return error_response(registry::ErrorCode::kUnsupported, "method not allowed on this route");
}

}  // namespace

boost::asio::awaitable<http::Response> Api::dispatch(http::Request& req, const Route& route,
                                                     const Query& query) {
  std::string base_url = options_.host + options_.prefix;
  Context ctx{req,          registry_,        route, query, base_url, pool_, upload_pool_,
              cheap_reads_, options_.redirect};
  const std::string& m = req.method;
  const bool read = m == "GET" || m == "HEAD";

  switch (route.kind) {
    case Kind::kNotFound:
      co_return error_response(registry::ErrorCode::kNameUnknown, "no such route");
    case Kind::kBase:
      if (read) co_return json_response(200, "{}");
      break;
    case Kind::kCatalog:
      if (read) co_return co_await list_catalog(ctx);
      break;
    case Kind::kTags:
      if (read) co_return co_await list_tags(ctx);
      break;
    case Kind::kReferrers:
      if (read) co_return co_await list_referrers(ctx);
      break;
    case Kind::kManifest:
      if (read) co_return co_await get_manifest(ctx);
      if (m == "PUT") co_return co_await put_manifest(ctx);
      if (m == "DELETE") co_return co_await delete_manifest(ctx);
      break;
    case Kind::kBlob:
      if (read) co_return co_await get_blob(ctx);
      if (m == "DELETE") co_return co_await delete_blob(ctx);
      break;
    case Kind::kUploads:
      if (m == "POST") co_return co_await start_upload(ctx);
      break;
    case Kind::kUpload:
      if (read) co_return co_await upload_status(ctx);
      if (m == "PATCH") co_return co_await patch_upload(ctx);
      if (m == "PUT") co_return co_await put_upload(ctx);
      if (m == "DELETE") co_return co_await cancel_upload(ctx);
      break;
  }
  co_return method_not_allowed();
}

std::optional<http::Response> Api::denial(const auth::Decision& decision,
                                          const std::vector<auth::Access>& access) const {
  switch (decision.verdict) {
    case auth::Verdict::kAllowed:
      return std::nullopt;
    case auth::Verdict::kUnauthorized: {
      auto res = error_response(registry::ErrorCode::kUnauthorized, "authentication required");
      res.headers.set("WWW-Authenticate", authorizer_->challenge(access));
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

boost::asio::awaitable<http::Response> Api::handle(http::Request& req) {
  http::Response res;
  std::optional<registry::Error> failure;
  std::string_view path = req.path;
  if (!options_.prefix.empty()) {
    // Outside the prefix nothing is served; inside, the rest is an ordinary /v2/ path.
    if (path.substr(0, options_.prefix.size()) == options_.prefix) {
      path.remove_prefix(options_.prefix.size());
    } else {
      path = "/";
    }
  }
  Route route = parse_route(path);
  Query query(req.query);
  std::optional<http::Response> denied;
  if (authorizer_) {
    // Derived before authenticating, so that a 401 can name what to obtain a token for.
    denied = co_await authorize(req, required_access(route, req.method, query.get("from")));
  }
  if (denied) {
    res = std::move(*denied);
    if (req.method == "HEAD") res.body = std::string();
    res.headers.set("Docker-Distribution-API-Version", "registry/2.0");
    co_return res;
  }
  try {
    res = co_await dispatch(req, route, query);
  } catch (const registry::Error& e) {
    failure = e;
  } catch (const storage::Error& e) {
    spdlog::error("storage error on {} {}: {}", req.method, req.path, e.what());
    failure = e.no_space() ? registry::Error(registry::ErrorCode::kStorageFull, "storage is full")
              : e.unavailable() ? registry::Error(registry::ErrorCode::kUnavailable,
                                                  "storage is unavailable, retry later")
                                : registry::Error(registry::ErrorCode::kInternal, "storage error");
  }
  if (failure) {
    res = error_response(*failure);
    // HEAD answers carry no body; keep the status and headers only.
    if (req.method == "HEAD") res.body = std::string();
  }
  res.headers.set("Docker-Distribution-API-Version", "registry/2.0");
  co_return res;
}

}  // namespace onsen::api
