// The Distribution / OCI API: turns http::Requests under /v2/ into registry calls and their
// results into http::Responses. Thread-safe; one Api serves every connection.
#pragma once

#include "api/query.h"
#include "api/router.h"
#include "auth/authorizer.h"
#include "http/message.h"
#include "registry/registry.h"

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
};

class Api {
 public:
  // authorizer may be null (no auth configured: everything is allowed); it must outlive the Api.
  Api(registry::Registry& registry, ApiOptions options, auth::Authorizer* authorizer)
      : registry_(registry), options_(std::move(options)), authorizer_(authorizer) {}

  boost::asio::awaitable<http::Response> handle(http::Request& req);

 private:
  boost::asio::awaitable<http::Response> dispatch(http::Request& req, const Route& route,
                                                  const Query& query);
  // nullopt when the request may proceed, else the 401/403/429 answer.
  std::optional<http::Response> authorize(const http::Request& req, const Route& route,
                                          const Query& query);

  registry::Registry& registry_;
  ApiOptions options_;
  auth::Authorizer* authorizer_;
};

}  // namespace onsen::api
