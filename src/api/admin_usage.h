// GET <prefix>/admin/usage (every repository and the store's total) and
// GET <prefix>/admin/usage/<name> (one repository): the storage usage index's figures as JSON,
// for the web UI and for people; behind the Authorizer with the admin access record. Answers from
// memory (registry::UsageIndex), never walking the store.
#pragma once

#include "api/api.h"
#include "http/message.h"
#include "registry/usage_index.h"

#include <nlohmann/json.hpp>

#include <string>

namespace onsen::api {

// The JSON both this endpoint and `onsen du --json` print:
// {"repositories":[{"name":..,"bytes":..,"shared_bytes":..,"blobs":..,"tags":..,
//   "quota":{"repository":<glob>,"bytes":..,"tags":..}}], "total":{"bytes":..,"blobs":..,
//   "repositories":..}, "ready":true, "walked":"<RFC 3339>"}
nlohmann::json usage_json(const registry::UsageReport& report);
nlohmann::json usage_json(const registry::RepositoryUsage& repository);

// The handler of the two routes; `prefix` is http.prefix ("" or "/registry"). `api` authorizes.
http::Handler admin_usage_handler(Api& api, registry::UsageIndex& usage, std::string prefix);

}  // namespace onsen::api
