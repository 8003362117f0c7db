// Small builders shared by the handlers.
#pragma once

#include "http/message.h"
#include "registry/digest.h"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace onsen::api {

http::Response empty_response(unsigned status);
http::Response json_response(unsigned status, std::string body,
                             std::string content_type = "application/json");
// The last touch of every answer: the API version header, and no body on an error to a HEAD
// (`failed`: res is an error response), whose status and headers alone are kept.
http::Response finish_response(const http::Request& req, http::Response res, bool failed);
// Reads the whole request body, refusing (Error kManifestTooLarge) past max_size bytes.
boost::asio::awaitable<std::string> read_body(http::Request& req, size_t max_size);
// Parses a digest from the path or query; Error(kDigestInvalid) when malformed.
registry::Digest parse_digest(const std::string& text);

}  // namespace onsen::api
