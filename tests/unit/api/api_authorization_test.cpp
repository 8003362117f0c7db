// Api::handle with an Authorizer: the access records reach it, and each verdict becomes its
// response (401 + the authorizer's challenge, 403 DENIED, 429 + Retry-After, or the handler's).
#include "api/api.h"

#include "api_request.h"

#include "storage/factory.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

namespace onsen::api {
namespace {

namespace net = boost::asio;

// Lets anyone pull and nobody do anything else, the way a read-only token service would; names
// the scope in its challenge. Records what it was asked.
class PullOnly final : public auth::Authorizer {
 public:
  auth::Decision authorize(const auth::Credentials& credentials,
                           const std::vector<auth::Access>& access) override {
    asked = access;
    client = std::string(credentials.client);
    if (credentials.authorization == "slow down") {
      return {auth::Verdict::kTooManyRequests, "", std::chrono::seconds(7)};
    }
    if (credentials.authorization.empty()) return {};
    if (credentials.authorization == "narrow token") {
      // A challenge of this request's own (a token authorizer's error="insufficient_scope").
      auth::Decision d;
      d.challenge = "Bearer realm=\"https://" + std::string(credentials.host) +
                    "/auth/token\",error=\"insufficient_scope\"";
      return d;
    }
    for (const auto& a : access) {
      for (const auto& action : a.actions) {
        if (action != "pull") return {auth::Verdict::kDenied, "reader"};
      }
    }
    return {auth::Verdict::kAllowed, "reader"};
  }
  std::string challenge(const std::vector<auth::Access>& access) const override {
    return "Bearer realm=\"https://auth.example/token\",service=\"registry\",scope=\"" +
           auth::scope_of(access) + "\"";
  }

  std::vector<auth::Access> asked;
  std::string client;
};

class ApiAuthorizationTest : public ::testing::Test {
 protected:
  http::Response send(std::string method, std::string target, std::string authorization,
                      std::string host = "") {
    test::BytesBody body;
    http::Request req = test::api_request(std::move(method), std::move(target), body);
    if (!authorization.empty()) req.headers.add("Authorization", authorization);
    if (!host.empty()) req.headers.add("Host", host);
    io_.restart();
    auto result = net::co_spawn(io_, api_.handle(req), net::use_future);
    io_.run();
    return result.get();
  }
  static std::string code(const http::Response& res) {
    return nlohmann::json::parse(std::get<std::string>(res.body))["errors"][0]["code"];
  }

  // Declared before api_, so it outlives the pools' jobs that resume on it (blocking_pool.h).
  net::io_context io_;
  registry::Registry registry_{storage::make_driver("inmemory", {}), {}};
  PullOnly authorizer_;
  Api api_{registry_, {}, &authorizer_};
};

TEST_F(ApiAuthorizationTest, UnauthorizedCarriesTheScope) {
  auto res = send("PUT", "/v2/team/app/manifests/latest", "");
  EXPECT_EQ(res.status, 401u);
  EXPECT_EQ(code(res), "UNAUTHORIZED");
  EXPECT_EQ(res.headers.get("WWW-Authenticate"),
            "Bearer realm=\"https://auth.example/token\",service=\"registry\","
            "scope=\"repository:team/app:pull,push\"");
  EXPECT_EQ(authorizer_.client, "::1");
}

TEST_F(ApiAuthorizationTest, ADecisionsOwnChallengeWins) {
  auto res = send("GET", "/v2/team/app/tags/list", "narrow token", "registry.example:5000");
  EXPECT_EQ(res.status, 401u);
  EXPECT_EQ(code(res), "UNAUTHORIZED");
  // ... written with the request's Host, which reached the authorizer.
  EXPECT_EQ(res.headers.get("WWW-Authenticate"),
            "Bearer realm=\"https://registry.example:5000/auth/token\","
            "error=\"insufficient_scope\"");
}

TEST_F(ApiAuthorizationTest, DeniedIs403Denied) {
  auto res = send("DELETE", "/v2/team/app/blobs/sha256:" + std::string(64, 'a'), "token");
  EXPECT_EQ(res.status, 403u);
  EXPECT_EQ(code(res), "DENIED");
  EXPECT_EQ(res.headers.get("Docker-Distribution-API-Version"), "registry/2.0");
  ASSERT_EQ(authorizer_.asked.size(), 1u);
  EXPECT_EQ(authorizer_.asked[0].scope(), "repository:team/app:delete");
  // A mount asks for the source too, and is refused for the push.
  res =
      send("POST",
           "/v2/team/app/blobs/uploads/?mount=sha256:" + std::string(64, 'a') + "&from=team%2Fbase",
           "token");
  EXPECT_EQ(res.status, 403u);
  EXPECT_EQ(auth::scope_of(authorizer_.asked),
            "repository:team/app:pull,push repository:team/base:pull");
}

TEST_F(ApiAuthorizationTest, TooManyRequestsCarriesRetryAfter) {
  auto res = send("GET", "/v2/", "slow down");
  EXPECT_EQ(res.status, 429u);
  EXPECT_EQ(code(res), "TOOMANYREQUESTS");
  EXPECT_EQ(res.headers.get("Retry-After"), "7");
  EXPECT_TRUE(authorizer_.asked.empty());  // the base route asks for nothing
}

TEST_F(ApiAuthorizationTest, AllowedReachesTheHandler) {
  EXPECT_EQ(send("GET", "/v2/", "token").status, 200u);
  auto res = send("GET", "/v2/team/app/tags/list", "token");
  EXPECT_EQ(res.status, 404u);
  EXPECT_EQ(code(res), "NAME_UNKNOWN");
  res = send("GET", "/v2/_catalog", "token");
  EXPECT_EQ(res.status, 403u);  // "*" is more than pull for this authorizer
  EXPECT_EQ(authorizer_.asked[0].scope(), "registry:catalog:*");
}

}  // namespace
}  // namespace onsen::api
