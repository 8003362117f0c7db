// The Distribution / OCI API: turns http::Requests under /v2/ into registry calls and their
// results into http::Responses. Thread-safe; one Api serves every connection.
#pragma once

#include "api/auth_outcomes.h"
#include "api/events.h"
#include "api/query.h"
#include "api/router.h"
#include "auth/authorizer.h"
#include "http/blocking_pool.h"
#include "http/message.h"
#include "registry/online_collector.h"
#include "registry/registry.h"
#include "storage/driver.h"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace onsen::api {

struct ApiOptions {
  // URL path prefix before /v2/ (Distribution's http.prefix), e.g. "/registry"; "" for none.
  std::string prefix;
  // Base URL for Location and Link headers (Distribution's http.host), e.g.
  // "https://registry.example.com"; "" makes them relative paths, which every client accepts.
  std::string host;
  // Threads that run blocking storage work and password verification (BlockingPool): as many
  // writes and bcrypt runs as this proceed at once, the rest wait their turn.
  size_t blocking_threads = 16;
  // Threads that take uploads' data (writing, hashing, the final fsync and digest check): a lane
  // of their own, so that other requests' storage work and password checks never queue behind an
  // upload's, at `upload_niceness` nice levels below the process (see http::BlockingPool), so
  // that when the CPU is saturated the I/O threads, and with them small requests, go first.
  size_t upload_threads = 16;
  int upload_niceness = 10;
  // Blob GET and HEAD answer 307 to the storage's own URL for the blob (a presigned S3 URL,
  // Registry::blob_url) when the driver has one, so the bytes do not pass through the registry,
  // as Distribution does; false (storage.redirect.disable) streams them.
  bool redirect = true;
  // The admin endpoints' collector (<prefix>/admin/gc, see handle_admin); null: none (a
  // read-only registry), they answer UNSUPPORTED. Must outlive the Api.
  registry::OnlineCollector* collector = nullptr;
  // What POST /admin/gc runs when its query says nothing else: the storage.gc keys.
  registry::CollectionRequest gc_defaults;
  // Notifications (api/events.h): where the events of pushes, pulls and deletes go; none when
  // its notifier is null.
  EventOptions events;
};

class Api {
 public:
  // authorizer may be null (no auth configured: everything is allowed); it must outlive the Api.
  Api(registry::Registry& registry, ApiOptions options, auth::Authorizer* authorizer)
      : registry_(registry),
        options_(std::move(options)),
        authorizer_(authorizer),
        pool_(options_.blocking_threads),
        upload_pool_(options_.upload_threads, options_.upload_niceness),
        cheap_reads_(registry.storage_capabilities() & storage::kCheapReads) {}

  boost::asio::awaitable<http::Response> handle(http::Request& req);
  // The admin endpoints beside /v2 (<prefix>/admin/...; api/admin.cpp), behind the same
  // Authorizer with the access record registry:admin:* (htpasswd: any valid user):
  //   POST /admin/gc[?dryrun=true&deleteuntagged=true&grace=30s]: starts a collection: 202
  //     {"run":N,"state":"running"}; 409 DENIED when one runs here or on another replica;
  //   GET /admin/gc: {"state":"idle|running","runs":N,"last":{...}} (the collector's status);
  //   DELETE /admin/repositories/<name>: deletes the repository (its blobs go at the next
  //     collection): 202; 404 NAME_UNKNOWN; 405 UNSUPPORTED unless storage.delete.enabled;
  //   GET /admin/usage[/<name>]: storage usage (api/admin_usage.h).
  boost::asio::awaitable<http::Response> handle_admin(http::Request& req);
  // After the server stopped, before it is destroyed: waits for the storage work, upload data and
  // password checks still running on the pools (a forced stop does not wait for them).
  void finish_blocking_work() {
    pool_.wait();
    upload_pool_.wait();
  }
  // The Authorizer's decisions so far (none counted without one). For the metrics.
  const AuthOutcomes& auth_outcomes() const { return auth_outcomes_; }

 private:
  boost::asio::awaitable<http::Response> dispatch(http::Request& req, const Route& route,
                                                  const Query& query, RequestEvents& events);
  // Authorizes `access`, then awaits `work` (an awaitable starts only when awaited: not at all
  // when refused), turning the registry and storage errors it throws into the spec's answers.
  // `events`, when given, learns the authenticated user (the events' actor).
  boost::asio::awaitable<http::Response> respond(http::Request& req,
                                                 const std::vector<auth::Access>& access,
                                                 boost::asio::awaitable<http::Response> work,
                                                 RequestEvents* events = nullptr);
  // Asks the Authorizer about `access` for req: nullopt when allowed (then *user is the
  // authenticated user, "" when anonymous), else the 401/403/429.
  boost::asio::awaitable<std::optional<http::Response>> authorize(
      http::Request& req, const std::vector<auth::Access>& access, std::string* user);
  // The admin endpoints (api/admin.cpp); `path` without the prefix.
  boost::asio::awaitable<http::Response> admin_dispatch(http::Request& req, std::string_view path);
  http::Response collection_status() const;
  boost::asio::awaitable<http::Response> start_collection(http::Request& req);
  boost::asio::awaitable<http::Response> delete_repository(std::string name);
  // Counts the decision in auth_outcomes_.
  void count_outcome(const auth::Decision& decision, const auth::Credentials& credentials);
  // The answer to a decision: nullopt when allowed, else the 401/403/429 response.
  std::optional<http::Response> denial(const auth::Decision& decision,
                                       const std::vector<auth::Access>& access) const;

  registry::Registry& registry_;
  ApiOptions options_;
  auth::Authorizer* authorizer_;
  http::BlockingPool pool_;
  http::BlockingPool upload_pool_;
  bool cheap_reads_;
  AuthOutcomes auth_outcomes_;
};

}  // namespace onsen::api
