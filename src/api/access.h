// The access a request asks for, derived from its route and method before anyone authenticates,
// as Distribution's app does (registry/handlers/app.go, appendAccessRecords):
//   a repository route: GET/HEAD -> pull; POST/PUT/PATCH -> pull,push; DELETE -> delete; other
//     methods -> nothing; and ?from=<repo> (a cross-repository mount) also pulls from <repo>;
//   /v2/_catalog -> registry:catalog:*;
//   /v2/ and paths that are no route -> nothing (authentication only).
#pragma once

#include "api/router.h"
#include "auth/access.h"

#include <optional>
#include <string_view>
#include <vector>

namespace onsen::api {

// `from` is the decoded ?from= parameter, if any. Names are passed as routed, not validated:
// an invalid name is refused after authorization, as registry:2 does.
std::vector<auth::Access> required_access(const Route& route, std::string_view method,
                                          const std::optional<std::string>& from);

}  // namespace onsen::api
