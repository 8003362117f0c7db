// What kind of request the API served, as the metrics label it (`route`): the router's kinds,
// the two upload routes as one, and the admin endpoints. Api::handle and handle_admin put it in
// http::Request::route_class for the server's RequestObserver.
#pragma once

#include "api/router.h"

#include <string_view>

namespace onsen::api {

enum class RouteClass : unsigned {
  kOther = 0,  // not a registry path (a 404), or refused before the API saw it
  kBase,
  kBlob,
  kUpload,
  kManifest,
  kTags,
  kCatalog,
  kReferrers,
  kAdmin,
  kCount
};
inline constexpr unsigned kRouteClasses = static_cast<unsigned>(RouteClass::kCount);

constexpr RouteClass route_class(Route::Kind kind) {
  switch (kind) {
    case Route::Kind::kNotFound:
      return RouteClass::kOther;
    case Route::Kind::kBase:
      return RouteClass::kBase;
    case Route::Kind::kCatalog:
      return RouteClass::kCatalog;
    case Route::Kind::kTags:
      return RouteClass::kTags;
    case Route::Kind::kManifest:
      return RouteClass::kManifest;
    case Route::Kind::kBlob:
      return RouteClass::kBlob;
    case Route::Kind::kUploads:
    case Route::Kind::kUpload:
      return RouteClass::kUpload;
    case Route::Kind::kReferrers:
      return RouteClass::kReferrers;
  }
  return RouteClass::kOther;
}

// The label value: "base", "blob", "upload", ...; "other" for anything unknown.
constexpr std::string_view route_class_name(unsigned c) {
  constexpr std::string_view kNames[] = {"other", "base",    "blob",      "upload", "manifest",
                                         "tags",  "catalog", "referrers", "admin"};
  return c < kRouteClasses ? kNames[c] : kNames[0];
}

}  // namespace onsen::api
