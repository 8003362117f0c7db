// One handler per endpoint, grouped by protocol area in blobs.cpp, uploads.cpp, manifests.cpp,
// listing.cpp (tags and catalog) and referrers.cpp. Each may throw registry::Error; Api::handle
// turns that into the spec's error response.
//
// Which registry calls leave the I/O thread (through Context::blocking): those that may block for
// long — every write (fsync, rename, removal: manifest PUT and DELETE, upload start and cancel,
// blob DELETE, mounts) and opening a blob for GET. An upload's own data (each buffer of the body,
// staged chunks, finishing: fsync and digest check) goes through Context::uploading instead, a
// pool of its own at a lower CPU priority, so that it never delays the rest.
// Reads of small objects and metadata (manifest GET, blob HEAD, tag and catalog listings,
// referrers, upload status) go through Context::reading, which runs them inline when the driver
// has storage::kCheapReads (a local filesystem's page cache answers in microseconds, and a hop
// to the pool and back would cost more than the read, measurably so on small requests) and on the
// pool otherwise (an object store answers in milliseconds).
#pragma once

#include "api/events.h"
#include "api/query.h"
#include "api/router.h"
#include "http/blocking_pool.h"
#include "http/message.h"
#include "registry/registry.h"

#include <boost/asio/awaitable.hpp>

namespace onsen::api {

struct Context {
  http::Request& req;
  registry::Registry& registry;
  const Route& route;
  const Query& query;
  const std::string& base_url;  // host + prefix, prepended to every URL the API hands out
  http::BlockingPool& pool;
  http::BlockingPool& upload_pool;
  bool cheap_reads;       // the driver has storage::kCheapReads
  bool redirect;          // ApiOptions::redirect
  RequestEvents& events;  // the notifications of what the handler did (api/events.h)

  // Runs f() (registry work that may block) on the pool, away from the I/O thread.
  template <typename F>
  auto blocking(F f) {
    return pool.run(std::move(f));
  }
  // Runs f() (work on an open upload's data) on the upload pool (ApiOptions::upload_threads).
  template <typename F>
  auto uploading(F f) {
    return upload_pool.run(std::move(f));
  }
  // Runs f() (registry reads) inline when reads are cheap, else on the pool.
  template <typename F>
  boost::asio::awaitable<std::invoke_result_t<F&>> reading(F f) {
    if (cheap_reads) co_return f();
    co_return co_await pool.run(std::move(f));
  }

  // A URL for a path under /v2/ as clients must see it.
  std::string url(std::string_view path) const { return base_url + std::string(path); }
};

using Reply = boost::asio::awaitable<http::Response>;

Reply get_blob(Context& ctx);  // GET and HEAD
Reply delete_blob(Context& ctx);

Reply start_upload(Context& ctx);  // POST: new session, monolithic ?digest=, or ?mount=&from=
Reply upload_status(Context& ctx);
Reply patch_upload(Context& ctx);
Reply put_upload(Context& ctx);
Reply cancel_upload(Context& ctx);

Reply get_manifest(Context& ctx);  // GET and HEAD
Reply put_manifest(Context& ctx);
Reply delete_manifest(Context& ctx);

Reply list_tags(Context& ctx);
Reply list_catalog(Context& ctx);
Reply list_referrers(Context& ctx);

}  // namespace onsen::api
