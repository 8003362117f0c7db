// Routes requests to handlers by path prefix, so that the Distribution API (under /v2/) and the
// endpoints beside it — a web UI, /metrics on a debug address, a token endpoint — are separate
// handlers registered in one place (cli/serve.cpp), not branches of the API.
//
// A prefix matches the path equal to it and the paths below it: "/v2" matches "/v2", "/v2/" and
// "/v2/x/tags/list", not "/v2x". The longest matching prefix wins; "" (or "/") matches every path.
// Paths are matched as sent (not percent-decoded). A request no prefix matches goes to the
// fallback: by default a plain 404 "404 page not found", as Go's http.NotFound answers.
//
// Register everything before serving: handle() is not thread-safe, dispatching is.
#pragma once

#include "http/message.h"

#include <string>
#include <string_view>
#include <vector>

namespace onsen::http {

class Mux {
 public:
  Mux();
  // Sends requests under `prefix` to `handler`; a later registration of the same prefix replaces
  // the earlier one.
  void handle(std::string prefix, Handler handler);
  void set_fallback(Handler handler) { fallback_ = std::move(handler); }

  // The handler registered for `path` (the fallback if none); for dispatching and tests.
  const Handler& route(std::string_view path) const;
  // A Handler for the server that dispatches through this Mux, which must outlive it.
  Handler handler() const {
    return [this](Request& req) { return route(req.path)(req); };
  }

 private:
  struct Entry {
    std::string prefix;  // without a trailing '/'
    Handler handler;
  };
  std::vector<Entry> entries_;  // longest prefix first
  Handler fallback_;
};

}  // namespace onsen::http
