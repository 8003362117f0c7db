#include "api/admin_usage.h"

#include "api/errors.h"
#include "api/responses.h"
#include "registry/names.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace onsen::api {

nlohmann::json usage_json(const registry::RepositoryUsage& repository) {
  nlohmann::json j = {{"name", repository.name},
                      {"bytes", repository.bytes},
                      {"shared_bytes", repository.shared_bytes},
                      {"blobs", repository.blobs},
                      {"tags", repository.tags}};
  if (const auto& quota = repository.quota) {
    auto& q = j["quota"] = {{"repository", quota->pattern}};
    if (quota->bytes) q["bytes"] = *quota->bytes;
    if (quota->tags) q["tags"] = *quota->tags;
  }
  return j;
}

nlohmann::json usage_json(const registry::UsageReport& report) {
  nlohmann::json repositories = nlohmann::json::array();
  for (auto& repository : report.repositories) repositories.push_back(usage_json(repository));
  nlohmann::json j = {{"repositories", std::move(repositories)},
                      {"total",
                       {{"bytes", report.total_bytes},
                        {"blobs", report.total_blobs},
                        {"repositories", report.repositories.size()}}},
                      {"ready", report.ready}};
  if (report.ready) {
    j["walked"] = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z",
                              std::chrono::floor<std::chrono::seconds>(report.walked));
  }
  return j;
}

http::Response usage_response(const registry::UsageIndex* usage, std::string_view rest) {
  if (!usage) {
    return error_response(registry::ErrorCode::kUnsupported,
                          "storage usage is not kept: set usage.enabled (or configure quotas)");
  }
  if (rest.empty() || rest == "/") return json_response(200, usage_json(usage->report()).dump());
  if (rest.front() != '/')
    return error_response(registry::ErrorCode::kNameUnknown, "no such route");
  std::string name(rest.substr(1));
  if (!registry::valid_repository_name(name)) {
    return error_response(registry::ErrorCode::kNameInvalid, "invalid repository name");
  }
  auto repository = usage->repository(name);
  if (!repository) {
    return error_response(registry::ErrorCode::kNameUnknown,
                          "repository name not known to registry");
  }
  return json_response(200, usage_json(*repository).dump());
}

}  // namespace onsen::api
