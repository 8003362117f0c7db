// required_access: the access records of every route kind and method, as Distribution's app
// derives them (registry/handlers/app.go).
#include "api/access.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace onsen::api {
namespace {

struct Case {
  std::string method;
  std::string path;
  std::optional<std::string> from;
  std::vector<std::string> scopes;  // Access::scope() of each record, in order
};

TEST(RequiredAccess, EveryRouteKindAndMethod) {
  const std::string r = "/v2/team/app";
  const std::string digest =
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  const std::vector<Case> cases = {
      // No route, the base route: authentication only.
      {"GET", "/", {}, {}},
      {"GET", "/v2/", {}, {}},
      {"HEAD", "/v2/", {}, {}},
      {"DELETE", "/v2/", {}, {}},
      {"GET", "/v2/team/app/nothing", {}, {}},
      // The catalog, whatever the method (non-GET methods are refused later, with 405).
      {"GET", "/v2/_catalog", {}, {"registry:catalog:*"}},
      {"POST", "/v2/_catalog", {}, {"registry:catalog:*"}},
      // Repository routes: the method decides.
      {"GET", r + "/tags/list", {}, {"repository:team/app:pull"}},
      {"HEAD", r + "/manifests/latest", {}, {"repository:team/app:pull"}},
      {"GET", r + "/manifests/" + digest, {}, {"repository:team/app:pull"}},
      {"PUT", r + "/manifests/latest", {}, {"repository:team/app:pull,push"}},
      {"DELETE", r + "/manifests/" + digest, {}, {"repository:team/app:delete"}},
      {"GET", r + "/blobs/" + digest, {}, {"repository:team/app:pull"}},
      {"HEAD", r + "/blobs/" + digest, {}, {"repository:team/app:pull"}},
      {"DELETE", r + "/blobs/" + digest, {}, {"repository:team/app:delete"}},
      {"POST", r + "/blobs/uploads/", {}, {"repository:team/app:pull,push"}},
      {"GET", r + "/blobs/uploads/abc", {}, {"repository:team/app:pull"}},
      {"PATCH", r + "/blobs/uploads/abc", {}, {"repository:team/app:pull,push"}},
      {"PUT", r + "/blobs/uploads/abc", {}, {"repository:team/app:pull,push"}},
      {"DELETE", r + "/blobs/uploads/abc", {}, {"repository:team/app:delete"}},
      {"GET", r + "/referrers/" + digest, {}, {"repository:team/app:pull"}},
      // A cross-repository mount also pulls from the source.
      {"POST",
       r + "/blobs/uploads/",
       "team/base",
       {"repository:team/app:pull,push", "repository:team/base:pull"}},
      {"POST", r + "/blobs/uploads/", "", {"repository:team/app:pull,push"}},
      // Methods that touch nothing ask for nothing (and get 405).
      {"OPTIONS", r + "/tags/list", {}, {}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> scopes;
    for (const auto& a : required_access(parse_route(c.path), c.method, c.from)) {
      scopes.push_back(a.scope());
    }
    EXPECT_EQ(scopes, c.scopes) << c.method << " " << c.path;
  }
}

}  // namespace
}  // namespace onsen::api
