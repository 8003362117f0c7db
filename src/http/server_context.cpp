#include "http/server_context.h"

#include <utility>
#include <vector>

namespace onsen::http::detail {

namespace net = boost::asio;

void ServerContext::set_on_drained(std::function<void()> f) {
  std::lock_guard lock(mu_);
  on_drained_ = std::move(f);
}

void ServerContext::add(const std::shared_ptr<Connection>& c) {
  std::lock_guard lock(mu_);
  conns_.emplace(c.get(), c);
}

void ServerContext::remove(Connection* c) {
  std::function<void()> notify;
  {
    std::lock_guard lock(mu_);
    conns_.erase(c);
    size_t left = active.fetch_sub(1) - 1;
    if (left == 0 && stopping) notify = on_drained_;
  }
  if (notify) notify();
}

std::shared_ptr<net::ssl::context> ServerContext::tls_context() const {
  std::lock_guard lock(tls_mu_);
  return tls_context_;
}

void ServerContext::set_tls_context(std::shared_ptr<net::ssl::context> c) {
  std::shared_ptr<net::ssl::context> old;
  {
    std::lock_guard lock(tls_mu_);
    old = std::exchange(tls_context_, std::move(c));
  }
  // `old` is released outside the lock (it may be the last reference).
}

void ServerContext::shutdown_all(bool force) {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(mu_);
    live.reserve(conns_.size());
    for (auto& [raw, weak] : conns_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  // Outside the lock: dropping the last reference runs a destructor that takes it.
  for (auto& c : live) c->shutdown(force);
  live.clear();
}

}  // namespace onsen::http::detail
