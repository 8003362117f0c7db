// Requests as the transport hands them to Api::handle, for the api unit tests: method, target
// (split into path and query), a loopback peer, and a body read from memory.
#pragma once

#include "http/message.h"

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace onsen::api::test {

class BytesBody final : public http::BodyReader {
 public:
  explicit BytesBody(std::string data = "") : data_(std::move(data)) {}
  boost::asio::awaitable<size_t> read_some(char* buf, size_t n) override {
    n = std::min(n, data_.size() - at_);
    std::memcpy(buf, data_.data() + at_, n);
    at_ += n;
    co_return n;
  }
  std::optional<uint64_t> content_length() const override { return data_.size(); }

 private:
  std::string data_;
  size_t at_ = 0;
};

// body must outlive the request's handling.
inline http::Request api_request(std::string method, std::string target, http::BodyReader& body) {
  http::Request req;
  req.method = std::move(method);
  req.target = target;
  auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  req.peer = {"::1", 4242};
  req.body = &body;
  return req;
}

}  // namespace onsen::api::test
