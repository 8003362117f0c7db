// TokenAuthorizer: the decisions and challenges registry:2's token access controller gives.
#include "auth/token_authorizer.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"
#include "token_fixtures.h"

namespace onsen::auth {
namespace {

using json = nlohmann::json;

class TokenAuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = test::generate_ec();
    json jwks = {{"keys", json::array({test::jwk_of(key_, "k1")})}};
    options_.realm = "http://127.0.0.1:5001/auth";
    options_.service = "onsen";
    options_.issuer = "issuer";
    options_.jwks = dir_.write("jwks.json", jwks.dump());
    options_.now = [this] { return now_; };
  }

  std::string token(json access, int64_t exp_in = 300) const {
    json claims = {{"iss", "issuer"},      {"sub", "bob"},    {"aud", "onsen"},
                   {"exp", now_ + exp_in}, {"nbf", now_ - 1}, {"access", std::move(access)}};
    return "Bearer " + test::sign_jwt({{"alg", "ES256"}, {"kid", "k1"}}, claims, key_);
  }
  static json grant(const std::string& type, const std::string& name,
                    std::vector<std::string> actions) {
    return json::array({{{"type", type}, {"name", name}, {"actions", actions}}});
  }

  test::TempDir dir_;
  test::Pkey key_;
  TokenAuthorizerOptions options_;
  int64_t now_ = test::unix_now();
  const std::vector<Access> push_{{"repository", "team/app", {"pull", "push"}}};
};

TEST_F(TokenAuthorizerTest, NoTokenGetsTheChallengeWithScope) {
  TokenAuthorizer authorizer(options_);
  for (std::string header : {"", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b"}) {
    auto d = authorizer.authorize({header, "127.0.0.1"}, push_);
    EXPECT_EQ(d.verdict, Verdict::kUnauthorized) << header;
    EXPECT_EQ(
        d.challenge,
        R"(Bearer realm="http://127.0.0.1:5001/auth",service="onsen",scope="repository:team/app:pull,push")")
        << header;
  }
  EXPECT_EQ(authorizer.challenge({}),
            R"(Bearer realm="http://127.0.0.1:5001/auth",service="onsen")");
}

TEST_F(TokenAuthorizerTest, GrantedTokenIsAllowedAndCached) {
  TokenAuthorizer authorizer(options_);
  std::string header = token(grant("repository", "team/app", {"pull", "push"}));
  // Not seen yet: the pool must verify it.
  EXPECT_FALSE(authorizer.decide_without_blocking({header, "c"}, push_).has_value());
  auto d = authorizer.authorize({header, "c"}, push_);
  EXPECT_EQ(d.verdict, Verdict::kAllowed);
  EXPECT_EQ(d.user, "bob");
  EXPECT_EQ(authorizer.cached_tokens(), 1u);
  // Seen: decided on the I/O thread, scope checked per request.
  auto quick = authorizer.decide_without_blocking({header, "c"}, push_);
  ASSERT_TRUE(quick.has_value());
  EXPECT_EQ(quick->verdict, Verdict::kAllowed);
  quick =
      authorizer.decide_without_blocking({header, "c"}, {{"repository", "team/app", {"delete"}}});
  ASSERT_TRUE(quick.has_value());
  EXPECT_EQ(quick->verdict, Verdict::kUnauthorized);
  // The base route needs only a valid token.
  EXPECT_EQ(authorizer.authorize({header, "c"}, {}).verdict, Verdict::kAllowed);
}

TEST_F(TokenAuthorizerTest, InsufficientScopeNamesTheScope) {
  TokenAuthorizer authorizer(options_);
  std::string header = token(grant("repository", "team/app", {"pull"}));
  auto d = authorizer.authorize({header, "c"}, push_);
  EXPECT_EQ(d.verdict, Verdict::kUnauthorized);
  EXPECT_EQ(
      d.challenge,
      R"(Bearer realm="http://127.0.0.1:5001/auth",service="onsen",scope="repository:team/app:pull,push",error="insufficient_scope")");
  // Another repository.
  d = authorizer.authorize({token(grant("repository", "team/other", {"pull", "push"})), "c"},
                           push_);
  EXPECT_EQ(d.verdict, Verdict::kUnauthorized);
  EXPECT_NE(d.challenge.find("insufficient_scope"), std::string::npos);
  // A mount needs pull on the source as well.
  std::vector<Access> mount = {push_[0], {"repository", "team/base", {"pull"}}};
  d = authorizer.authorize({token(grant("repository", "team/app", {"*"})), "c"}, mount);
  EXPECT_EQ(d.verdict, Verdict::kUnauthorized);
  EXPECT_NE(d.challenge.find(R"(scope="repository:team/app:pull,push repository:team/base:pull")"),
            std::string::npos);
}

TEST_F(TokenAuthorizerTest, CatalogNeedsRegistryCatalogStar) {
  TokenAuthorizer authorizer(options_);
  const std::vector<Access> catalog = {{"registry", "catalog", {"*"}}};
  auto d = authorizer.authorize({token(grant("repository", "team/app", {"*"})), "c"}, catalog);
  EXPECT_EQ(d.verdict, Verdict::kUnauthorized);
  EXPECT_NE(d.challenge.find(R"(scope="registry:catalog:*",error="insufficient_scope")"),
            std::string::npos);
  // registry:catalog with an action other than "*" does not cover the catalog's "*" record.
  d = authorizer.authorize({token(grant("registry", "catalog", {"pull"})), "c"}, catalog);
  EXPECT_EQ(d.verdict, Verdict::kUnauthorized);
  d = authorizer.authorize({token(grant("registry", "catalog", {"*"})), "c"}, catalog);
  EXPECT_EQ(d.verdict, Verdict::kAllowed);
}

TEST_F(TokenAuthorizerTest, InvalidTokenSaysSo) {
  TokenAuthorizer authorizer(options_);
  std::string header = token(grant("repository", "team/app", {"pull", "push"}));
  header[header.size() - 3] = header[header.size() - 3] == 'A' ? 'B' : 'A';
  auto d = authorizer.authorize({header, "c"}, push_);
  EXPECT_EQ(d.verdict, Verdict::kUnauthorized);
  EXPECT_TRUE(d.challenge.ends_with(R"(,error="invalid_token")")) << d.challenge;
  EXPECT_EQ(authorizer.cached_tokens(), 0u);  // refusals are not cached
  d = authorizer.authorize({"Bearer not-a-jwt", "c"}, push_);
  EXPECT_TRUE(d.challenge.ends_with(R"(,error="invalid_token")")) << d.challenge;
}

TEST_F(TokenAuthorizerTest, CachedTokenExpires) {
  TokenAuthorizer authorizer(options_);
  std::string header = token(grant("repository", "team/app", {"pull", "push"}), 10);
  EXPECT_EQ(authorizer.authorize({header, "c"}, push_).verdict, Verdict::kAllowed);
  now_ += 71;  // past exp + leeway
  auto d = authorizer.decide_without_blocking({header, "c"}, push_);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->verdict, Verdict::kUnauthorized);
  EXPECT_NE(d->challenge.find("invalid_token"), std::string::npos);
  EXPECT_EQ(authorizer.cached_tokens(), 0u);
}

TEST_F(TokenAuthorizerTest, AutoRedirectRealmFromTheRequest) {
  options_.autoredirect = true;
  TokenAuthorizer authorizer(options_);
  Credentials credentials{"", "c", "registry.example:5000", ""};
  EXPECT_TRUE(
      authorizer.authorize(credentials, {})
          .challenge.starts_with(
              R"(Bearer realm="https://registry.example:5000/auth/token",service="onsen")"));
  credentials.forwarded_proto = "http";
  credentials.host = "evil\"host";
  EXPECT_TRUE(authorizer.authorize(credentials, {})
                  .challenge.starts_with(R"(Bearer realm="http://evil\"host/auth/token")"));
}

TEST_F(TokenAuthorizerTest, SigningAlgorithmsChecked) {
  options_.signing_algorithms = {"ES256", "HS256"};  // HS256 dropped with a warning
  EXPECT_NO_THROW(TokenAuthorizer{options_});
  options_.signing_algorithms = {"HS512"};
  EXPECT_THROW(TokenAuthorizer{options_}, std::runtime_error);
  options_.signing_algorithms = {"none"};
  EXPECT_THROW(TokenAuthorizer{options_}, std::runtime_error);
  options_.signing_algorithms = {"RS256"};
  TokenAuthorizer rs_only(options_);
  auto d = rs_only.authorize({token(grant("repository", "team/app", {"*"})), "c"}, push_);
  EXPECT_EQ(d.verdict, Verdict::kUnauthorized);  // an ES256 token
}

}  // namespace
}  // namespace onsen::auth
