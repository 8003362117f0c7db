// POST /v2/<name>/blobs/uploads/ and GET/PATCH/PUT/DELETE /v2/<name>/blobs/uploads/<id>
#include "api/byte_range.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "api/responses.h"
#include "registry/error.h"

#include <fmt/format.h>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>
#include <memory>
#include <optional>

namespace onsen::api {

namespace {

using std::chrono::steady_clock;

// The body buffer of one upload request: it starts small and grows (doubling, as many times as
// the last fill's rate would still fill within kFastFill) only while data arrives faster than it
// is written; a fill slower than kSlowFill takes it back to the start. A slow uploader thus holds
// 64 KiB, not 1 MiB (140 of them held some 150 MiB), while a fast one soon writes and hashes in 1
// MiB pieces.
constexpr size_t kMinBuffer = 64 << 10;
constexpr size_t kMaxBuffer = 1 << 20;
constexpr auto kFastFill = std::chrono::milliseconds(50);
constexpr auto kSlowFill = std::chrono::seconds(1);

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

[[noreturn]] void range_mismatch(std::string message) {
  throw registry::Error(registry::ErrorCode::kRangeInvalid, std::move(message));
}

// Checks a chunk's Content-Range against what the upload already holds: the chunk must start
// exactly where the upload ends and its length must agree with Content-Length. A body without
// Content-Length (chunked transfer coding) can only be measured as it arrives: the length it
// must have is returned, for the caller to check at its end.
std::optional<uint64_t> check_chunk_range(Context& ctx, uint64_t offset) {
  auto header = ctx.req.headers.get("Content-Range");
  if (!header) return std::nullopt;
  auto range = parse_content_range(*header);
  if (!range || range->first != offset) {
    range_mismatch(fmt::format("chunk must start at offset {}", offset));
  }
  auto declared = ctx.req.body->content_length();
  if (!declared) return range->length();
  if (*declared != range->length()) {
    range_mismatch(fmt::format("Content-Range {}-{} announces {} bytes, Content-Length {}",
                               range->first, range->last, range->length(), *declared));
  }
  return std::nullopt;
}

// One body buffer: its bytes and how many of them hold data.
struct BodyBuffer {
  std::unique_ptr<char[]> data;
  size_t size = 0;
  size_t filled = 0;

  void resize(size_t n) {
    if (n == size) return;
    data.reset();  // before the new one: a slow uploader never holds both
    data = std::make_unique_for_overwrite<char[]>(n);
    size = n;
  }
};

// What one fill of a buffer from the socket brought.
struct Fill {
  bool end = false;               // the body ended, or brought more than the limit
  std::exception_ptr broken;      // the body broke (what came before is in the buffer)
  steady_clock::duration took{};  // time spent reading
};

// Reads the body into `buf` until it is full or the body ends (or has brought more than `limit`
// bytes in all). A socket read returns what has arrived so far (often some tens of KiB): filling
// the buffer first gives the file write and the hash update large pieces.
boost::asio::awaitable<Fill> fill_buffer(Context& ctx, BodyBuffer& buf, uint64_t& total,
                                         uint64_t limit) {
  Fill result;
  const auto started = steady_clock::now();
  try {
    while (buf.filled < buf.size) {
      size_t n =
          co_await ctx.req.body->read_some(buf.data.get() + buf.filled, buf.size - buf.filled);
      buf.filled += n;
      total += n;
      if (n == 0 || total > limit) {
        result.end = true;
        break;
      }
    }
  } catch (...) {
    result.broken = std::current_exception();
  }
  result.took = steady_clock::now() - started;
  co_return result;
}

// A job on the upload pool, its failure returned rather than thrown: so that running it beside
// another never cancels that one half-way (a job on the pool cannot be stopped, and both use the
// same buffer).
template <typename F>
boost::asio::awaitable<std::exception_ptr> upload_job(Context& ctx, F f) {
  try {
    co_await ctx.uploading(std::move(f));
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

// Writes and hashes a buffer on the upload pool, per buffer, not per socket read. A large buffer
// is written and hashed at once on two of its threads: the copy into the page cache (on the bench
// VM, 40-60% of a push's CPU: each new page-cache page is a first touch of guest memory) and
// SHA-256 (0.6 s/GiB with SHA-NI) need nothing of each other. Same-run A/B, 1 GiB pushes on the
// busy 2-core bench machine, medians of 4: monolithic 302 vs 227 MB/s serial, chunked 218 vs 197,
// for 5% more CPU (1.49 vs 1.42 s/GiB). A small one (a slow body) is not worth the second hop.
boost::asio::awaitable<void> write_buffer(Context& ctx, registry::UploadSession& session,
                                          BodyBuffer& buf) {
  using namespace boost::asio::experimental::awaitable_operators;
  const char* data = buf.data.get();
  const size_t n = buf.filled;
  if (n <= kMinBuffer) {
    co_await ctx.uploading([&] { session.write(data, n); });
  } else {
    auto [stored, hashed] = co_await (upload_job(ctx, [&] { session.store(data, n); }) &&
                                      upload_job(ctx, [&] { session.hash(data, n); }));
    if (stored) std::rethrow_exception(stored);
    if (hashed) std::rethrow_exception(hashed);
  }
  buf.filled = 0;
}

// Streams the request body into the upload, hashing as it goes; returns the bytes read. Stops
// once more than `limit` bytes came. When the body breaks, what was buffered is still written:
// the upload resumes from all the bytes that arrived.
//
// One buffer, filled then written: while it is written, the kernel's socket buffer (autotuned up
// to tcp_rmem's maximum, 32 MiB here) goes on taking the client's bytes. Filling a second buffer
// meanwhile (double buffering, asio's `&&` on the fill and the write) made no difference in a
// same-run A/B on the bench machine, 1 GiB pushes (mono 642 vs 654 MB/s, chunked 490 vs 492,
// medians of 4), for a second buffer held per upload.
boost::asio::awaitable<uint64_t> append_body(
    Context& ctx, registry::UploadSession& session,
    uint64_t limit = std::numeric_limits<uint64_t>::max()) {
  auto declared = ctx.req.body->content_length();
  const size_t bound =
      declared ? static_cast<size_t>(std::min<uint64_t>(*declared, kMaxBuffer)) : kMaxBuffer;
  if (bound == 0) co_return 0;
  // Only sets a number (no storage call): made here, before the first write.
  if (declared) session.expect(std::min(*declared, limit));
  BodyBuffer buf;
  buf.resize(std::min(bound, kMinBuffer));
  uint64_t total = 0;
  for (;;) {
    Fill got = co_await fill_buffer(ctx, buf, total, limit);
    if (buf.filled > 0) co_await write_buffer(ctx, session, buf);
    if (got.broken) std::rethrow_exception(got.broken);
    if (got.end) break;
    size_t next = buf.size;
    if (got.took > kSlowFill) {
      next = std::min(bound, kMinBuffer);
    } else {
      // Doubled as often as the rate of this fill would still fill it within kFastFill: a fast
      // body (each PATCH of a chunked push) gets kMaxBuffer after one fill, not after five.
      while (next < bound &&
             got.took * static_cast<int64_t>(std::min(next * 2, bound) / buf.size) < kFastFill) {
        next = std::min(next * 2, bound);
      }
    }
    buf.resize(next);
  }
  co_return total;
}

// A 416 that still tells the client where the upload stands, so it can resume.
http::Response range_invalid(Context& ctx, const registry::Error& e, uint64_t offset) {
  auto res = error_response(e);
  res.headers.set("Location", upload_location(ctx, ctx.route.arg));
  res.headers.set("Docker-Upload-UUID", ctx.route.arg);
  res.headers.set("Range", received_range(offset));
  return res;
}

// Appends the body of a PATCH or final PUT, honouring its Content-Range. When the range does not
// fit the upload or the body, returns the 416 to answer, and nothing of the body has become part
// of the upload.
boost::asio::awaitable<std::optional<http::Response>> append_chunk(
    Context& ctx, registry::UploadSession& session) {
  const uint64_t offset = session.offset();
  std::optional<uint64_t> length;
  try {
    length = check_chunk_range(ctx, offset);
  } catch (const registry::Error& e) {
    co_return range_invalid(ctx, e, offset);
  }
  if (!length) {
    co_await append_body(ctx, session);
    co_return std::nullopt;
  }
  co_await ctx.uploading([&] { session.begin_chunk(); });
  const uint64_t got = co_await append_body(ctx, session, *length);
  if (got != *length) {
    co_await ctx.uploading([&] { session.discard_chunk(); });
    co_return range_invalid(
        ctx,
        registry::Error(registry::ErrorCode::kRangeInvalid,
                        fmt::format("Content-Range announces {} bytes, the body has {}{}", *length,
                                    got > *length ? "more than " : "", std::min(got, *length))),
        offset);
  }
  co_await ctx.uploading([&] { session.commit_chunk(); });
  co_return std::nullopt;
}

}  // namespace

Reply start_upload(Context& ctx) {
  const std::string& name = ctx.route.name;
  registry::Registry::check_name(name);
  auto mount = ctx.query.get("mount");
  auto from = ctx.query.get("from");
  if (mount) {
    // Anything not mountable, a malformed digest included, falls back to an ordinary upload
    // session, as the spec allows (and its conformance suite expects). Without `from`, only
    // with http.automaticcrossmount (the spec lets the registry look for the blob itself).
    auto digest = registry::Digest::parse(*mount);
    uint64_t size = 0;
    if (digest && co_await ctx.blocking([&] {
          bool mounted = from ? ctx.registry.mount_blob(name, *from, *digest)
                              : ctx.registry.mount_blob_from_any(name, *digest);
          // The event's size: one more lookup, only when someone listens.
          if (mounted && ctx.events.enabled()) size = ctx.registry.blob_size(name, *digest);
          return mounted;
        })) {
      ctx.events.blob("mount", name, *digest, size, from.value_or(""));
      co_return blob_created(ctx, *digest);
    }
  }
  std::optional<registry::Digest> digest;
  if (auto text = ctx.query.get("digest")) digest = parse_digest(*text);

  auto id = co_await ctx.blocking([&] {
    // A declared monolithic upload over the repository's quota is refused before its bytes.
    if (auto declared = ctx.req.body->content_length(); digest && declared) {
      ctx.registry.check_quota(name, *declared);
    }
    return ctx.registry.start_upload(name);
  });
  if (!digest) co_return upload_progress(202, ctx, id, 0);

  auto session = co_await ctx.uploading([&] { return ctx.registry.open_upload(name, id); });
  uint64_t size = 0;
  try {
    co_await append_body(ctx, *session);
    size = session->offset();
    co_await ctx.uploading([&] { session->finish(*digest); });
  } catch (...) {
    // The client never learnt this upload's id, so it can neither resume nor cancel it: its
    // partial data (on a full disk, all the space there was) would stay until the purger runs.
    // On the I/O thread (no co_await in a catch block): an error path only.
    session.reset();
    try {
      ctx.registry.cancel_upload(name, id);
    } catch (...) {
      // Already gone (a digest mismatch removes it), or storage failing: the purger's job.
    }
    throw;
  }
  ctx.events.blob("push", name, *digest, size);
  co_return blob_created(ctx, *digest);
}

Reply upload_status(Context& ctx) {
  uint64_t size =
      co_await ctx.reading([&] { return ctx.registry.upload_size(ctx.route.name, ctx.route.arg); });
  co_return upload_progress(204, ctx, ctx.route.arg, size);
}

namespace {

// The upload's writer, opened on the upload pool (an upload this process did not see last is
// rehashed there, reading all of its data). A body whose declared length would take the upload
// over the repository's quota is refused before any of it is stored.
boost::asio::awaitable<std::unique_ptr<registry::UploadSession>> open_upload(Context& ctx) {
  co_return co_await ctx.uploading([&] {
    auto session = ctx.registry.open_upload(ctx.route.name, ctx.route.arg);
    if (auto declared = ctx.req.body->content_length(); declared && *declared > 0) {
      ctx.registry.check_quota(ctx.route.name, session->offset() + *declared);
    }
    return session;
  });
}

}  // namespace

Reply patch_upload(Context& ctx) {
  auto session = co_await open_upload(ctx);
  if (auto refused = co_await append_chunk(ctx, *session)) co_return std::move(*refused);
  uint64_t size = session->offset();
  co_await ctx.uploading([&] { session.reset(); });  // closes (flushes) the writer
  co_return upload_progress(202, ctx, ctx.route.arg, size);
}

Reply put_upload(Context& ctx) {
  auto text = ctx.query.get("digest");
  if (!text) throw registry::Error(registry::ErrorCode::kDigestInvalid, "digest parameter missing");
  auto digest = parse_digest(*text);
  auto session = co_await open_upload(ctx);
  if (auto refused = co_await append_chunk(ctx, *session)) co_return std::move(*refused);
  const uint64_t size = session->offset();
  co_await ctx.uploading([&] {
    session->finish(digest);
    session.reset();
  });
  ctx.events.blob("push", ctx.route.name, digest, size);
  co_return blob_created(ctx, digest);
}

Reply cancel_upload(Context& ctx) {
  co_await ctx.blocking([&] { ctx.registry.cancel_upload(ctx.route.name, ctx.route.arg); });
  co_return empty_response(204);
}

}  // namespace onsen::api
