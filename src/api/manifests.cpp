// GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>
#include "api/handlers.h"
#include "api/responses.h"
#include "registry/manifest.h"
#include "registry/manifest_store.h"

#include <fmt/format.h>

namespace onsen::api {

namespace {

// The tag a reference names, "" when it is a digest (a tag has no ':').
std::string_view tag_of(const std::string& reference) {
  return reference.find(':') == std::string::npos ? std::string_view(reference) : "";
}

}  // namespace

Reply get_manifest(Context& ctx) {
  auto manifest = co_await ctx.reading(
      [&] { return ctx.registry.get_manifest(ctx.route.name, ctx.route.arg); });
  http::Response res;
  res.headers.set("Content-Type", manifest.media_type);
  res.headers.set("Docker-Content-Digest", manifest.digest.str());
  res.headers.set("Etag", fmt::format("\"{}\"", manifest.digest.str()));
  // HEAD too, as registry:2 (its HEAD fetches the manifest through the same listener).
  ctx.events.manifest("pull", ctx.route.name, manifest.digest, manifest.media_type, manifest.bytes,
                      tag_of(ctx.route.arg));
  if (ctx.req.method == "HEAD") {
    res.head_length = manifest.bytes.size();
  } else {
    res.body = std::move(manifest.bytes);
  }
  co_return res;
}

Reply put_manifest(Context& ctx) {
  registry::Registry::check_name(ctx.route.name);
  std::string body = co_await read_body(ctx.req, registry::ManifestStore::kMaxManifestSize);
  auto content_type = ctx.req.headers.get("Content-Type").value_or("");
  auto result = co_await ctx.blocking(
      [&] { return ctx.registry.put_manifest(ctx.route.name, ctx.route.arg, content_type, body); });
  ctx.events.manifest("push", ctx.route.name, result.digest, registry::detect_media_type(body),
                      body, tag_of(ctx.route.arg));
  auto res = empty_response(201);
  res.headers.set("Location",
                  ctx.url(fmt::format("/v2/{}/manifests/{}", ctx.route.name, result.digest.str())));
  res.headers.set("Docker-Content-Digest", result.digest.str());
  if (result.subject) res.headers.set("OCI-Subject", result.subject->str());
  co_return res;
}

Reply delete_manifest(Context& ctx) {
  auto untagged = co_await ctx.blocking(
      [&] { return ctx.registry.delete_manifest(ctx.route.name, ctx.route.arg); });
  if (auto digest = registry::Digest::parse(ctx.route.arg)) {
    ctx.events.deleted_manifest(ctx.route.name, *digest);
  }
  for (const auto& tag : untagged) ctx.events.deleted_tag(ctx.route.name, tag);
  co_return empty_response(202);
}

}  // namespace onsen::api
