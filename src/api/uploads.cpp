// POST /v2/<name>/blobs/uploads/ and GET/PATCH/PUT/DELETE /v2/<name>/blobs/uploads/<id>
#include "api/byte_range.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "api/responses.h"
#include "registry/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

namespace onsen::api {

namespace {

constexpr size_t kChunkBuffer = 1 << 20;

std::string upload_location(const Context& ctx, const std::string& id) {
  return ctx.url(fmt::format("/v2/{}/blobs/uploads/{}", ctx.route.name, id));
}

// Range of bytes received so far, as Distribution reports it ("0-0" when none).
std::string received_range(uint64_t size) {
  return fmt::format("0-{}", size == 0 ? 0 : size - 1);
}

http::Response upload_progress(unsigned status, const Context& ctx, const std::string& id,
                               uint64_t size) {
  auto res = empty_response(status);
  res.headers.set("Location", upload_location(ctx, id));
  res.headers.set("Docker-Upload-UUID", id);
  res.headers.set("Range", received_range(size));
  return res;
}

http::Response blob_created(const Context& ctx, const registry::Digest& digest) {
  auto res = empty_response(201);
  res.headers.set("Location",
                  ctx.url(fmt::format("/v2/{}/blobs/{}", ctx.route.name, digest.str())));
  res.headers.set("Docker-Content-Digest", digest.str());
  return res;
}

// Checks a chunk's Content-Range against what the upload already holds: the chunk must start
// exactly where the upload ends and its length must agree with Content-Length.
void check_chunk_range(Context& ctx, uint64_t offset) {
  auto header = ctx.req.headers.get("Content-Range");
  if (!header) return;
  auto range = parse_content_range(*header);
  auto declared = ctx.req.body->content_length();
  if (!range || range->first != offset || (declared && *declared != range->length())) {
    throw registry::Error(registry::ErrorCode::kRangeInvalid,
                          fmt::format("chunk must start at offset {}", offset));
  }
}

// Streams the request body into the upload, hashing as it goes. A socket read returns what has
// arrived so far (often some tens of KiB): the buffer is filled before each write, so the file
// write and the hash update get large pieces.
boost::asio::awaitable<void> append_body(Context& ctx, registry::UploadSession& session) {
  auto declared = ctx.req.body->content_length();
  const size_t size =
      declared ? static_cast<size_t>(std::min<uint64_t>(*declared, kChunkBuffer)) : kChunkBuffer;
  if (size == 0) co_return;
  auto buf = std::make_unique_for_overwrite<char[]>(size);
  size_t filled = 0;
  for (;;) {
    size_t n = co_await ctx.req.body->read_some(buf.get() + filled, size - filled);
    filled += n;
    if (filled > 0 && (n == 0 || filled == size)) {
      session.write(buf.get(), filled);
      filled = 0;
    }
    if (n == 0) break;
  }
}

// A 416 that still tells the client where the upload stands, so it can resume.
http::Response range_invalid(Context& ctx, const registry::Error& e, uint64_t offset) {
  auto res = error_response(e);
  res.headers.set("Location", upload_location(ctx, ctx.route.arg));
  res.headers.set("Docker-Upload-UUID", ctx.route.arg);
  res.headers.set("Range", received_range(offset));
  return res;
}

}  // namespace

Reply start_upload(Context& ctx) {
  const std::string& name = ctx.route.name;
  registry::Registry::check_name(name);
  auto mount = ctx.query.get("mount");
  auto from = ctx.query.get("from");
  if (mount && from) {
    // Anything not mountable, a malformed digest included, falls back to an ordinary upload
    // session, as the spec allows (and its conformance suite expects).
    auto digest = registry::Digest::parse(*mount);
    if (digest && ctx.registry.mount_blob(name, *from, *digest))
      co_return blob_created(ctx, *digest);
  }
  std::optional<registry::Digest> digest;
  if (auto text = ctx.query.get("digest")) digest = parse_digest(*text);

  auto id = ctx.registry.start_upload(name);
  if (!digest) co_return upload_progress(202, ctx, id, 0);

  auto session = ctx.registry.open_upload(name, id);
  try {
    co_await append_body(ctx, *session);
    session->finish(*digest);
  } catch (...) {
    // The client never learnt this upload's id, so it can neither resume nor cancel it: its
    // partial data (on a full disk, all the space there was) would stay until the purger runs.
    session.reset();
    try {
      ctx.registry.cancel_upload(name, id);
    } catch (...) {
      // Already gone (a digest mismatch removes it), or storage failing: the purger's job.
    }
    throw;
  }
  co_return blob_created(ctx, *digest);
}

Reply upload_status(Context& ctx) {
  uint64_t size = ctx.registry.upload_size(ctx.route.name, ctx.route.arg);
  co_return upload_progress(204, ctx, ctx.route.arg, size);
}

Reply patch_upload(Context& ctx) {
  auto session = ctx.registry.open_upload(ctx.route.name, ctx.route.arg);
  try {
    check_chunk_range(ctx, session->offset());
  } catch (const registry::Error& e) {
    co_return range_invalid(ctx, e, session->offset());
  }
  co_await append_body(ctx, *session);
  uint64_t size = session->offset();
  session.reset();
  co_return upload_progress(202, ctx, ctx.route.arg, size);
}

Reply put_upload(Context& ctx) {
  auto text = ctx.query.get("digest");
  if (!text) throw registry::Error(registry::ErrorCode::kDigestInvalid, "digest parameter missing");
  auto digest = parse_digest(*text);
  auto session = ctx.registry.open_upload(ctx.route.name, ctx.route.arg);
  try {
    check_chunk_range(ctx, session->offset());
  } catch (const registry::Error& e) {
    co_return range_invalid(ctx, e, session->offset());
  }
  co_await append_body(ctx, *session);
  session->finish(digest);
  co_return blob_created(ctx, digest);
}

Reply cancel_upload(Context& ctx) {
  ctx.registry.cancel_upload(ctx.route.name, ctx.route.arg);
  co_return empty_response(204);
}

}  // namespace onsen::api
