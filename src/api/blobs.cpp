// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
#include "api/byte_range.h"
#include "api/handlers.h"
#include "api/responses.h"
#include "registry/error.h"

#include <fmt/format.h>

#include <memory>

namespace onsen::api {

namespace {

// A StreamBody's read: on the pool unless the driver's reads are cheap. A plain function, not a
// lambda coroutine, so that nothing of the caller's closure must outlive the call.
boost::asio::awaitable<size_t> read_blob(storage::Reader& reader, http::BlockingPool& pool,
                                         bool cheap, char* buf, size_t n) {
  if (cheap) co_return reader.read(buf, n);
  co_return co_await pool.run([&] { return reader.read(buf, n); });
}

}  // namespace

Reply get_blob(Context& ctx) {
  auto digest = parse_digest(ctx.route.arg);
  const bool head = ctx.req.method == "HEAD";
  uint64_t size =
      co_await ctx.reading([&] { return ctx.registry.blob_size(ctx.route.name, digest); });

  // HEAD too, as registry:2 (its blob listener wraps the server of both).
  ctx.events.blob("pull", ctx.route.name, digest, size);
  http::Response res;
  res.headers.set("Docker-Content-Digest", digest.str());
  res.headers.set("Content-Type", "application/octet-stream");
  if (ctx.redirect) {
    // Distribution's blobServer: the client fetches the bytes from the store itself (a presigned
    // URL for this method; its Range goes there with it). The digest is told here too, since the
    // store's answer cannot carry it.
    if (auto url = ctx.registry.blob_url(ctx.route.name, digest, ctx.req.method)) {
      res.status = 307;
      res.headers.set("Location", *url);
      co_return res;
    }
  }
  res.headers.set("Accept-Ranges", "bytes");
  res.headers.set("Cache-Control", "max-age=31536000");
  res.headers.set("Etag", fmt::format("\"{}\"", digest.str()));

  ByteRange range{0, size == 0 ? 0 : size - 1};
  if (auto header = ctx.req.headers.get("Range")) {
    switch (parse_range(*header, size, &range)) {
      case RangeResult::kWhole:
        range = {0, size == 0 ? 0 : size - 1};
        break;
      case RangeResult::kPartial:
        res.status = 206;
        res.headers.set("Content-Range",
                        fmt::format("bytes {}-{}/{}", range.first, range.last, size));
        break;
      case RangeResult::kUnsatisfiable: {
        http::Response unsatisfiable;
        unsatisfiable.status = 416;
        unsatisfiable.headers.set("Content-Range", fmt::format("bytes */{}", size));
        co_return unsatisfiable;
      }
    }
  }
  uint64_t length = size == 0 ? 0 : range.length();
  if (head) {
    res.head_length = length;
    co_return res;
  }
  if (length == 0) co_return res;

  std::shared_ptr<storage::Reader> reader = co_await ctx.blocking(
      [&] { return ctx.registry.open_blob(ctx.route.name, digest, range.first, length); });
  if (int fd = reader->native_fd(); fd >= 0) {
    res.body = http::FileBody{reader, fd, range.first, length};
  } else {
    res.body =
        http::StreamBody{reader,
                         [raw = reader.get(), pool = &ctx.pool, cheap = ctx.cheap_reads](
                             char* buf, size_t n) { return read_blob(*raw, *pool, cheap, buf, n); },
                         length};
  }
  co_return res;
}

Reply delete_blob(Context& ctx) {
  auto digest = parse_digest(ctx.route.arg);
  co_await ctx.blocking([&] { ctx.registry.delete_blob(ctx.route.name, digest); });
  ctx.events.deleted_blob(ctx.route.name, digest);
  co_return empty_response(202);
}

}  // namespace onsen::api
