// GET /v2/<name>/referrers/<digest> (OCI Distribution 1.1): an image index of the manifests whose
// subject is <digest>, optionally filtered by ?artifactType=.
#include "api/handlers.h"
#include "api/responses.h"
#include "registry/manifest.h"

#include <nlohmann/json.hpp>

namespace onsen::api {

Reply list_referrers(Context& ctx) {
  auto digest = parse_digest(ctx.route.arg);
  auto artifact_type = ctx.query.get("artifactType").value_or("");
  auto referrers = co_await ctx.reading(
      [&] { return ctx.registry.referrers(ctx.route.name, digest, artifact_type); });

  auto manifests = nlohmann::json::array();
  for (auto& d : referrers) {
    nlohmann::json entry = {
        {"mediaType", d.media_type}, {"digest", d.digest.str()}, {"size", d.size}};
    if (!d.artifact_type.empty()) entry["artifactType"] = d.artifact_type;
    if (!d.annotations_json.empty())
      entry["annotations"] = nlohmann::json::parse(d.annotations_json);
    manifests.push_back(std::move(entry));
  }
  nlohmann::json index = {{"schemaVersion", 2},
                          {"mediaType", registry::media_type::kOciIndex},
                          {"manifests", std::move(manifests)}};
  auto res = json_response(200, index.dump(), std::string(registry::media_type::kOciIndex));
  if (!artifact_type.empty()) res.headers.set("OCI-Filters-Applied", "artifactType");
  co_return res;
}

}  // namespace onsen::api
