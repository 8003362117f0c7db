#include "api/access.h"

namespace onsen::api {

namespace {

// The actions of one method on a repository; empty for methods that touch nothing.
std::vector<std::string> actions_of(std::string_view method) {
  if (method == "GET" || method == "HEAD") return {"pull"};
  if (method == "POST" || method == "PUT" || method == "PATCH") return {"pull", "push"};
  if (method == "DELETE") return {"delete"};
  return {};
}

}  // namespace

std::vector<auth::Access> required_access(const Route& route, std::string_view method,
                                          const std::optional<std::string>& from) {
  using Kind = Route::Kind;
  std::vector<auth::Access> access;
  switch (route.kind) {
    case Kind::kNotFound:
    case Kind::kBase:
      break;
    case Kind::kCatalog:
      access.push_back({"registry", "catalog", {"*"}});
      break;
    default: {
      auto actions = actions_of(method);
      if (!actions.empty()) access.push_back({"repository", route.name, std::move(actions)});
      if (from && !from->empty()) access.push_back({"repository", *from, {"pull"}});
    }
  }
  return access;
}

}  // namespace onsen::api
