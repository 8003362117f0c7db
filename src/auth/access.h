// What a request asks to do, in the terms of Distribution's auth.Access and the token spec's
// scope: a resource (a repository, or the registry's catalog) and the actions on it. The API layer
// derives the list from the route and method before anyone authenticates (api/access.h); an
// Authorizer decides on it. Knows nothing of HTTP.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace onsen::auth {

struct Access {
  std::string type;                  // "repository" or "registry"
  std::string name;                  // the repository name, or "catalog"
  std::vector<std::string> actions;  // "pull", "push", "delete"; "*" for the catalog

  // The token spec's scope: "repository:library/alpine:pull,push".
  std::string scope() const;
  friend bool operator==(const Access&, const Access&) = default;
};

// The scopes of several records, space-separated as a Bearer challenge's scope="..." carries
// them; "" for none.
std::string scope_of(const std::vector<Access>& access);

}  // namespace onsen::auth
