// The admin endpoints (Api::handle_admin, see api.h): garbage collection on demand and its status,
// repository deletion.
#include "api/api.h"

#include "api/admin_usage.h"
#include "api/errors.h"
#include "api/responses.h"
#include "api/route_class.h"
#include "base/duration.h"
#include "registry/garbage_collector.h"

#include <fmt/chrono.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace onsen::api {

namespace {

using registry::ErrorCode;

// An error under the spec's code `code` with a status of the admin endpoints' own (409 for a
// collection already running, 400 for a bad query parameter), which the code's usual status
// (descriptor_of) would misstate.
http::Response error_with_status(ErrorCode code, unsigned status, std::string_view message) {
  auto res = error_response(code, message);
  res.status = status;
  return res;
}

http::Response bad_parameter(std::string_view name, const std::string& value,
                             std::string_view expected) {
  return error_with_status(ErrorCode::kUnsupported, 400,
                           fmt::format("query parameter {}: expected {}, got {}", name, expected,
                                       registry::quote_untrusted(value)));
}

std::optional<bool> parse_bool(const std::string& value) {
  if (value == "true" || value == "1" || value.empty()) return true;  // "?dryrun" alone: on
  if (value == "false" || value == "0") return false;
  return std::nullopt;
}

// A run's parameters, and for a finished one its result.
nlohmann::json record_json(const registry::CollectionRecord& r, bool finished) {
  nlohmann::json json = {
      {"run", r.run},
      {"started", fmt::format("{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(r.started))},
      {"trigger", r.request.trigger},
      {"dry_run", r.request.dry_run},
      {"delete_untagged", r.request.delete_untagged},
      {"grace_s", r.request.grace.count()},
  };
  if (finished) {
    json["duration_s"] = r.duration.count();
    json["manifests_deleted"] = r.outcome.manifests_deleted;
    json["blobs_deleted"] = r.outcome.blobs_deleted;
    json["bytes_freed"] = r.outcome.bytes_freed;
    json["completed"] = r.outcome.completed;
    if (!r.error.empty()) json["error"] = r.error;
  }
  return json;
}

}  // namespace

boost::asio::awaitable<http::Response> Api::handle_admin(http::Request& req) {
  std::string_view path = req.path;
  path.remove_prefix(std::min(path.size(), options_.prefix.size()));  // the Mux matched it
  req.route_class = static_cast<unsigned>(RouteClass::kAdmin);
  // One record for every admin endpoint: an Authorizer that knows roles (issue 15) narrows it.
  const std::vector<auth::Access> access = {{"registry", "admin", {"*"}}};
  co_return co_await respond(req, access, admin_dispatch(req, path));
}

boost::asio::awaitable<http::Response> Api::admin_dispatch(http::Request& req,
                                                           std::string_view path) {
  const std::string& m = req.method;
  constexpr std::string_view kRepositories = "/admin/repositories/";
  constexpr std::string_view kUsage = "/admin/usage";
  if (path == "/admin/gc") {
    if (m == "GET" || m == "HEAD") co_return collection_status();
    if (m == "POST") co_return co_await start_collection(req);
  } else if (path.substr(0, kRepositories.size()) == kRepositories &&
             path.size() > kRepositories.size()) {
    if (m == "DELETE") {
      co_return co_await delete_repository(std::string(path.substr(kRepositories.size())));
    }
  } else if (path.substr(0, kUsage.size()) == kUsage) {
    // On the pool: the whole report goes over every repository's links (milliseconds per 10,000).
    if (m == "GET") {
      co_return co_await pool_.run(
          [&] { return usage_response(registry_.usage(), path.substr(kUsage.size())); });
    }
  } else {
    co_return error_response(ErrorCode::kNameUnknown, "no such route");
  }
  co_return error_response(ErrorCode::kUnsupported, "method not allowed on this route");
}

http::Response Api::collection_status() const {
  if (!options_.collector) {
    return error_response(ErrorCode::kUnsupported,
                          "garbage collection is off: the registry is read-only");
  }
  const registry::CollectorStatus status = options_.collector->status();
  nlohmann::json body = {
      {"state", status.running ? "running" : "idle"}, {"runs", status.runs}, {"last", nullptr}};
  if (status.current) body["current"] = record_json(*status.current, false);
  if (status.last) body["last"] = record_json(*status.last, true);
  return json_response(200, body.dump());
}

boost::asio::awaitable<http::Response> Api::start_collection(http::Request& req) {
  if (!options_.collector) co_return collection_status();  // the same refusal
  registry::CollectionRequest request = options_.gc_defaults;
  request.trigger = "admin";
  request.deadline.reset();  // asked for now: the schedule's window does not apply
  Query query(req.query);
  for (auto [name, flag] : {std::pair{"dryrun", &request.dry_run},
                            std::pair{"deleteuntagged", &request.delete_untagged},
                            std::pair{"deletereferrers", &request.delete_referrers}}) {
    if (auto value = query.get(name)) {
      auto parsed = parse_bool(*value);
      if (!parsed) co_return bad_parameter(name, *value, "true or false");
      *flag = *parsed;
    }
  }
  if (auto value = query.get("grace")) {
    auto grace = base::parse_go_duration(*value);
    if (!grace || grace->count() < 0) {
      co_return bad_parameter("grace", *value, "a duration such as \"30s\" or \"2h\"");
    }
    request.grace = std::chrono::ceil<std::chrono::seconds>(*grace);
  }
  registry::OnlineCollector::Started started;
  try {
    // The lock's keeper (the store or Redis) is asked: off the I/O thread.
    started = co_await pool_.run([&] { return options_.collector->start(request); });
  } catch (const registry::Error&) {
    throw;
  } catch (const storage::Error&) {
    throw;
  } catch (const std::exception& e) {
    spdlog::warn("garbage collection not started: {}", e.what());
    co_return error_response(ErrorCode::kUnavailable,
                             "the collector lock is unavailable, retry later");
  }
  using Start = registry::OnlineCollector::Start;
  if (started.result == Start::kStarted) {
    co_return json_response(202, nlohmann::json{{"run", started.run}, {"state", "running"}}.dump());
  }
  std::string where = started.result == Start::kRunningHere ? "on this replica"
                      : started.holder.empty()              ? "on another replica"
                                               : "on another replica (" + started.holder + ")";
  co_return error_with_status(ErrorCode::kDenied, 409,
                              "a garbage collection is already running " + where);
}

boost::asio::awaitable<http::Response> Api::delete_repository(std::string name) {
  registry::Registry::check_name(name);
  registry_.check_delete_enabled();  // as Distribution's deletes: 405 UNSUPPORTED when off
  // Through the registry's driver stack, so that its caches (and the other replicas') drop the
  // repository's tags and manifests.
  registry::GarbageCollector collector(registry_.storage_driver(), {},
                                       registry_.uncached_storage_driver());
  co_await pool_.run([&] { collector.delete_repository(name); });
  if (auto* usage = registry_.usage()) usage->refresh_soon();
  spdlog::info("repository {} deleted; its blobs go at the next garbage collection", name);
  co_return empty_response(202);
}

}  // namespace onsen::api
