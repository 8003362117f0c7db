#include "http/mux.h"

#include <algorithm>

namespace onsen::http {

namespace {

bool under(std::string_view path, std::string_view prefix) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/' || prefix.empty();
}

}  // namespace

Mux::Mux()
    : fallback_([](Request&) -> boost::asio::awaitable<Response> {
        Response res;
        res.status = 404;
        res.headers.set("Content-Type", "text/plain; charset=utf-8");
        res.body = std::string("404 page not found\n");
        co_return res;
      }) {}

void Mux::handle(std::string prefix, Handler handler) {
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  auto same = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return e.prefix == prefix; });
  if (same != entries_.end()) {
    same->handler = std::move(handler);
    return;
  }
  entries_.push_back({std::move(prefix), std::move(handler)});
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

const Handler& Mux::route(std::string_view path) const {
  for (const auto& e : entries_) {
    if (under(path, e.prefix)) return e.handler;
  }
  return fallback_;
}

}  // namespace onsen::http
