#include "api/admin_usage.h"

#include "api/errors.h"
#include "api/responses.h"
#include "registry/names.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace onsen::api {

namespace {

// What the admin endpoints ask the Authorizer for (htpasswd: any valid user).
const std::vector<auth::Access>& admin_access() {
  static const std::vector<auth::Access> access{{"registry", "admin", {"*"}}};
  return access;
}

}  // namespace

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

http::Handler admin_usage_handler(Api& api, registry::UsageIndex& usage, std::string prefix) {
  return [&api, &usage, base = prefix + "/admin/usage"](
             http::Request& req) -> boost::asio::awaitable<http::Response> {
    auto denied = co_await api.authorize(req, admin_access());
    if (denied) co_return std::move(*denied);
    if (req.method != "GET") {
      co_return error_response(registry::ErrorCode::kUnsupported,
                               "method not allowed on this route");
    }
    std::string_view rest = std::string_view(req.path).substr(base.size());
    if (rest.empty() || rest == "/")
      co_return json_response(200, usage_json(usage.report()).dump());
    if (rest.front() != '/')
      co_return error_response(registry::ErrorCode::kNameUnknown, "no such route");
    std::string name(rest.substr(1));
    if (!registry::valid_repository_name(name)) {
      co_return error_response(registry::ErrorCode::kNameInvalid, "invalid repository name");
    }
    auto repository = usage.repository(name);
    if (!repository) {
      co_return error_response(registry::ErrorCode::kNameUnknown,
                               "repository name not known to registry");
    }
    co_return json_response(200, usage_json(*repository).dump());
  };
}

}  // namespace onsen::api
