// GET <prefix>/admin/usage (every repository and the store's total) and
// GET <prefix>/admin/usage/<name> (one repository), routed by Api::handle_admin (behind the
// Authorizer): the storage usage index's figures as JSON, for the web UI and for people. Answers
// from memory (registry::UsageIndex), never walking the store.
#pragma once

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

// The answer to GET /admin/usage<rest> (rest: "", "/" or "/<name>"); `usage` null: the registry
// keeps none (405 UNSUPPORTED).
http::Response usage_response(const registry::UsageIndex* usage, std::string_view rest);

}  // namespace onsen::api
