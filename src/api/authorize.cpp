// Api::authorize: the access decision of an endpoint beside /v2/ (the admin ones), made as
// Api::handle makes it for the API's own routes.
#include "api/api.h"

namespace onsen::api {

boost::asio::awaitable<std::optional<http::Response>> Api::authorize(
    http::Request& req, const std::vector<auth::Access>& access) {
  if (!authorizer_) co_return std::nullopt;
  // Throttling keys on the address (not the port); unix-socket clients share one key.
  std::string_view client =
      req.peer.unix_socket() ? std::string_view("unix") : std::string_view(req.peer.address);
  const auth::Credentials credentials{req.headers.get("Authorization").value_or(""), client};
  // Decided on the I/O thread when that costs nothing; only a bcrypt goes to the pool.
  auto decision = authorizer_->decide_without_blocking(credentials, access);
  if (!decision) {
    co_await pool_.run_function([&] { decision = authorizer_->authorize(credentials, access); });
  }
  co_return denial(*decision, access);
}

}  // namespace onsen::api
