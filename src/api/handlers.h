// One handler per endpoint, grouped by protocol area in blobs.cpp, uploads.cpp, manifests.cpp,
// listing.cpp (tags and catalog) and referrers.cpp. Each may throw registry::Error; Api::handle
// turns that into the spec's error response.
#pragma once

#include "api/query.h"
#include "api/router.h"
#include "http/message.h"
#include "registry/registry.h"

#include <boost/asio/awaitable.hpp>

namespace onsen::api {

struct Context {
  http::Request& req;
  registry::Registry& registry;
  const Route& route;
  const Query& query;
  const std::string& base_url;  // host + prefix, prepended to every URL the API hands out

  // A URL for a path under /v2/ as clients must see it.
  std::string url(std::string_view path) const { return base_url + std::string(path); }
};

using Reply = boost::asio::awaitable<http::Response>;

Reply get_blob(Context& ctx);  // GET and HEAD
Reply delete_blob(Context& ctx);

Reply start_upload(Context& ctx);  // POST: new session, monolithic ?digest=, or ?mount=&from=
Reply upload_status(Context& ctx);
Reply patch_upload(Context& ctx);
Reply put_upload(Context& ctx);
Reply cancel_upload(Context& ctx);

Reply get_manifest(Context& ctx);  // GET and HEAD
Reply put_manifest(Context& ctx);
Reply delete_manifest(Context& ctx);

Reply list_tags(Context& ctx);
Reply list_catalog(Context& ctx);
Reply list_referrers(Context& ctx);

}  // namespace onsen::api
