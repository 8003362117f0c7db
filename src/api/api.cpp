#include "api/api.h"

#include "api/access.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "api/responses.h"
#include "api/route_class.h"
#include "storage/driver.h"

namespace onsen::api {

namespace {

using Kind = Route::Kind;

http::Response method_not_allowed() {
  return error_response(registry::ErrorCode::kUnsupported, "method not allowed on this route");
}

}  // namespace

boost::asio::awaitable<http::Response> Api::dispatch(http::Request& req, const Route& route,
                                                     const Query& query, RequestEvents& events) {
  std::string base_url = options_.host + options_.prefix;
  Context ctx{req,          registry_,         route, query, base_url, pool_, upload_pool_,
              cheap_reads_, options_.redirect, events};
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

// Everything outside the prefix, and the prefix's own paths other than the admin endpoints'.
boost::asio::awaitable<http::Response> Api::handle(http::Request& req) {
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
  req.route_class = static_cast<unsigned>(route_class(route.kind));
  Query query(req.query);
  RequestEvents events(options_.events, req, options_.host, options_.prefix);
  // Derived before authenticating, so that a 401 can name what to obtain a token for.
  co_return co_await respond(req, required_access(route, req.method, query.get("from")),
                             dispatch(req, route, query, events), &events);
}

}  // namespace onsen::api
