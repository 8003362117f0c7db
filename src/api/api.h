// The Distribution / OCI API: turns http::Requests under /v2/ into registry calls and their
// results into http::Responses. Thread-safe; one Api serves every connection.
#pragma once

#include "http/message.h"
#include "registry/registry.h"

#include <boost/asio/awaitable.hpp>

namespace onsen::api {

class Api {
 public:
  explicit Api(registry::Registry& registry) : registry_(registry) {}

  boost::asio::awaitable<http::Response> handle(http::Request& req);

 private:
  boost::asio::awaitable<http::Response> dispatch(http::Request& req);
  registry::Registry& registry_;
};

}  // namespace onsen::api
