#include "api/responses.h"

#include "registry/error.h"

#include <fmt/format.h>

namespace onsen::api {

http::Response empty_response(unsigned status) {
  http::Response res;
  res.status = status;
  return res;
}

http::Response json_response(unsigned status, std::string body, std::string content_type) {
  http::Response res;
  res.status = status;
  res.headers.set("Content-Type", std::move(content_type));
  res.body = std::move(body);
  return res;
}

http::Response finish_response(const http::Request& req, http::Response res, bool failed) {
  if (failed && req.method == "HEAD") res.body = std::string();
  res.headers.set("Docker-Distribution-API-Version", "registry/2.0");
  return res;
}

boost::asio::awaitable<std::string> read_body(http::Request& req, size_t max_size) {
  auto too_large = [&] {
    return registry::Error(registry::ErrorCode::kManifestTooLarge,
                           fmt::format("request body is larger than {} bytes", max_size));
  };
  auto declared = req.body->content_length();
  if (declared && *declared > max_size) throw too_large();
  std::string body;
  body.reserve(declared.value_or(0));
  char buf[16 * 1024];
  while (size_t n = co_await req.body->read_some(buf, sizeof buf)) {
    if (body.size() + n > max_size) throw too_large();
    body.append(buf, n);
  }
  co_return body;
}

registry::Digest parse_digest(const std::string& text) {
  return registry::Digest::parse_or_throw(text);
}

}  // namespace onsen::api
