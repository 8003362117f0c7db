// The Distribution / OCI API: turns http::Requests under /v2/ into registry calls and their
// results into http::Responses. Thread-safe; one Api serves every connection.
#pragma once

#include "auth/authenticator.h"
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
  // authenticator may be null (no auth configured); it must outlive the Api.
  Api(registry::Registry& registry, ApiOptions options, auth::BasicAuthenticator* authenticator)
      : registry_(registry), options_(std::move(options)), authenticator_(authenticator) {}

  boost::asio::awaitable<http::Response> handle(http::Request& req);

 private:
  boost::asio::awaitable<http::Response> dispatch(http::Request& req, std::string_view path);
  // nullopt when the request may proceed, else the 401/429 answer.
  std::optional<http::Response> authenticate(const http::Request& req);

  registry::Registry& registry_;
  ApiOptions options_;
  auth::BasicAuthenticator* authenticator_;
};

}  // namespace onsen::api
