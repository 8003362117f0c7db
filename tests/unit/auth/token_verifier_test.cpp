// TokenKeys + TokenVerifier against tokens signed here (token_fixtures.h): what registry:2's
// token.go accepts and refuses, and what Onsen refuses beyond it (alg none, HMAC).
#include "auth/token_verifier.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "support/temp_dir.h"
#include "token_fixtures.h"

namespace onsen::auth {
namespace {

using json = nlohmann::json;
using test::Pkey;

constexpr const char* kIssuer = "test-issuer";
constexpr const char* kService = "test-registry";

// A P-256 key and its IDs as computed by Python (hashlib/base64) from its DER, as libtrust's
// keyIDFromCryptoKey and RFC 7638 define them.
constexpr const char* kKatPublicKey = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzOScWa5wTsHdx6jtabhdJfEH46ED
4fdCPpcAt9hJYPQ7ARHUMweE8Gx3rsoY7Sk+XJaZO3z4YcuwrUlEFsML5A==
-----END PUBLIC KEY-----
)";

TEST(TokenKeys, KeyIdsAsLibtrustAndRfc7638) {
  BIO* bio = BIO_new_mem_buf(kKatPublicKey, -1);
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(TokenKeys::libtrust_key_id(key),
            "POAP:AQ2E:RJWP:P6WY:XKOR:YYY7:ZOYM:DGJB:M6FM:MPDV:FJGG:A7MH");
  EXPECT_EQ(TokenKeys::jwk_thumbprint(key), "iv0wX3hXLIxCtYbLt07V7ran8oKXWQmBCU8z_slV7yQ");
  EVP_PKEY_free(key);
}

class TokenVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_key_ = new Pkey(test::generate_ec());
    ca_ = new test::Cert(test::make_certificate(*ca_key_, "token CA", nullptr, nullptr, true));
    rsa_ = new Pkey(test::generate_rsa());
    rsa_cert_ = new test::Cert(test::make_certificate(*rsa_, "rsa root", nullptr, nullptr, false));
    leaf_key_ = new Pkey(test::generate_ec());
    leaf_ = new test::Cert(test::make_certificate(*leaf_key_, "signer", *ca_key_, *ca_, false));
    ed_ = new Pkey(test::generate_ed25519());
    foreign_key_ = new Pkey(test::generate_ec());
    ec384_ = new Pkey(test::generate_ec("P-384"));
    ec521_ = new Pkey(test::generate_ec("P-521"));
  }
  static void TearDownTestSuite() {
    delete ca_key_;
    delete ca_;
    delete rsa_;
    delete rsa_cert_;
    delete leaf_key_;
    delete leaf_;
    delete ed_;
    delete foreign_key_;
    delete ec384_;
    delete ec521_;
  }

  void SetUp() override {
    bundle_ = dir_.write("bundle.pem", test::pem_of(*ca_) + test::pem_of(*rsa_cert_));
    json jwks = {
        {"keys", json::array({test::jwk_of(*ed_, "ed-key"), test::jwk_of(*rsa_, "rsa-jwk"),
                              test::jwk_of(*leaf_key_, "ec-jwk"), test::jwk_of(*ec384_, "ec384"),
                              test::jwk_of(*ec521_, "ec521")})}};
    jwks_ = dir_.write("jwks.json", jwks.dump());
    keys_ = std::make_shared<const TokenKeys>(bundle_, jwks_);
  }

  TokenVerifier verifier(std::vector<JwsAlgorithm> algorithms = {}) const {
    return TokenVerifier(keys_,
                         {kIssuer, kService, std::move(algorithms), std::chrono::seconds(60)});
  }

  static json claims(int64_t now) {
    return {{"iss", kIssuer},
            {"sub", "alice"},
            {"aud", kService},
            {"exp", now + 300},
            {"nbf", now - 10},
            {"iat", now - 10},
            {"jti", "1"},
            {"access", json::array({{{"type", "repository"},
                                     {"name", "library/alpine"},
                                     {"actions", {"pull", "push"}}}})}};
  }
  std::string rsa_kid() const { return TokenKeys::libtrust_key_id(rsa_->get()); }

  // verify()'s refusal reason, or "" when it accepts.
  std::string refusal(const std::string& token, std::vector<JwsAlgorithm> algorithms = {}) const {
    std::string why;
    auto v = verifier(std::move(algorithms)).verify(token, now_, &why);
    return v ? "" : why;
  }

  test::TempDir dir_;
  std::string bundle_, jwks_;
  std::shared_ptr<const TokenKeys> keys_;
  int64_t now_ = test::unix_now();

  static Pkey* ca_key_;
  static test::Cert* ca_;
  static Pkey* rsa_;
  static test::Cert* rsa_cert_;
  static Pkey* leaf_key_;
  static test::Cert* leaf_;
  static Pkey* ed_;
  static Pkey* foreign_key_;
  static Pkey* ec384_;
  static Pkey* ec521_;
};
Pkey* TokenVerifierTest::ca_key_;
test::Cert* TokenVerifierTest::ca_;
Pkey* TokenVerifierTest::rsa_;
test::Cert* TokenVerifierTest::rsa_cert_;
Pkey* TokenVerifierTest::leaf_key_;
test::Cert* TokenVerifierTest::leaf_;
Pkey* TokenVerifierTest::ed_;
Pkey* TokenVerifierTest::foreign_key_;
Pkey* TokenVerifierTest::ec384_;
Pkey* TokenVerifierTest::ec521_;

TEST_F(TokenVerifierTest, LoadsBundleAndJwks) {
  EXPECT_EQ(keys_->root_count(), 2u);
  EXPECT_NE(keys_->by_kid(rsa_kid()), nullptr);  // libtrust ID of a bundle certificate's key
  EXPECT_NE(keys_->by_kid(TokenKeys::jwk_thumbprint(rsa_->get())), nullptr);  // Distribution 3
  EXPECT_NE(keys_->by_kid("ed-key"), nullptr);
  EXPECT_EQ(keys_->by_kid("nope"), nullptr);
}

TEST_F(TokenVerifierTest, GoodTokenByBundleKid) {
  std::string token =
      test::sign_jwt({{"typ", "JWT"}, {"alg", "RS256"}, {"kid", rsa_kid()}}, claims(now_), *rsa_);
  std::string why;
  auto v = verifier().verify(token, now_, &why);
  ASSERT_TRUE(v) << why;
  EXPECT_EQ(v->subject, "alice");
  EXPECT_TRUE(v->grants({{"repository", "library/alpine", {"pull", "push"}}}));
  EXPECT_FALSE(v->grants({{"repository", "library/alpine", {"delete"}}}));
  EXPECT_FALSE(v->grants({{"repository", "library/other", {"pull"}}}));
  EXPECT_FALSE(v->grants({{"registry", "catalog", {"*"}}}));
  EXPECT_TRUE(v->grants({}));
}

TEST_F(TokenVerifierTest, EveryAlgorithmVerifies) {
  struct Case {
    const char* alg;
    Pkey* key;
    std::string kid;
  };
  std::vector<Case> cases = {{"RS256", rsa_, "rsa-jwk"},     {"RS384", rsa_, "rsa-jwk"},
                             {"RS512", rsa_, "rsa-jwk"},     {"PS256", rsa_, "rsa-jwk"},
                             {"PS384", rsa_, "rsa-jwk"},     {"PS512", rsa_, "rsa-jwk"},
                             {"ES256", leaf_key_, "ec-jwk"}, {"ES384", ec384_, "ec384"},
                             {"ES512", ec521_, "ec521"},     {"EdDSA", ed_, "ed-key"}};
  for (const auto& c : cases) {
    std::string token = test::sign_jwt({{"alg", c.alg}, {"kid", c.kid}}, claims(now_), *c.key);
    EXPECT_EQ(refusal(token), "") << c.alg;
  }
  // The curve must be the algorithm's: a P-384 key's signature labelled ES256 fails.
  EXPECT_EQ(refusal(test::sign_jwt({{"alg", "ES256"}, {"kid", "ec384"}}, claims(now_), *ec384_)),
            "unable to verify token signature");
  // The algorithm must fit the key: an RSA signature naming the EC key's kid fails.
  json header = {{"alg", "RS256"}, {"kid", "ec-jwk"}};
  EXPECT_EQ(refusal(test::sign_jwt(header, claims(now_), *rsa_)),
            "unable to verify token signature");
}

TEST_F(TokenVerifierTest, X5cChainToTheBundle) {
  json header = {{"alg", "ES256"},
                 {"x5c", {test::der_base64_of(*leaf_), test::der_base64_of(*ca_)}}};
  EXPECT_EQ(refusal(test::sign_jwt(header, claims(now_), *leaf_key_)), "");
  // The leaf alone: the CA is in the bundle, so the chain still builds.
  header["x5c"] = {test::der_base64_of(*leaf_)};
  EXPECT_EQ(refusal(test::sign_jwt(header, claims(now_), *leaf_key_)), "");
  // A leaf that verifies, but the signature is by another key.
  EXPECT_EQ(refusal(test::sign_jwt(header, claims(now_), *foreign_key_)),
            "unable to verify token signature");
}

TEST_F(TokenVerifierTest, X5cChainToAForeignCaIsRefused) {
  Pkey foreign_ca_key = test::generate_ec();
  auto foreign_ca = test::make_certificate(foreign_ca_key, "token CA", nullptr, nullptr, true);
  auto leaf = test::make_certificate(*foreign_key_, "signer", foreign_ca_key, foreign_ca, false);
  json header = {{"alg", "ES256"},
                 {"x5c", {test::der_base64_of(leaf), test::der_base64_of(foreign_ca)}}};
  std::string why = refusal(test::sign_jwt(header, claims(now_), *foreign_key_));
  EXPECT_TRUE(why.starts_with("unable to verify certificate chain")) << why;
  // Garbage in x5c.
  header["x5c"] = {"bm90IGEgY2VydA=="};
  EXPECT_EQ(refusal(test::sign_jwt(header, claims(now_), *foreign_key_)),
            "unable to parse leaf certificate");
}

TEST_F(TokenVerifierTest, JwksKid) {
  EXPECT_EQ(refusal(test::sign_jwt({{"alg", "EdDSA"}, {"kid", "ed-key"}}, claims(now_), *ed_)), "");
  // The kid of a JWKS key, signed by another Ed25519 key.
  Pkey other = test::generate_ed25519();
  EXPECT_EQ(refusal(test::sign_jwt({{"alg", "EdDSA"}, {"kid", "ed-key"}}, claims(now_), other)),
            "unable to verify token signature");
}

TEST_F(TokenVerifierTest, UnknownKidAndNoKey) {
  EXPECT_EQ(refusal(test::sign_jwt({{"alg", "RS256"}, {"kid", "AAAA:BBBB"}}, claims(now_), *rsa_)),
            "token signed by untrusted key with ID \"AAAA:BBBB\"");
  EXPECT_EQ(refusal(test::sign_jwt({{"alg", "RS256"}}, claims(now_), *rsa_)),
            "unable to get token signing key");
  // An embedded jwk is not trust.
  json header = {{"alg", "RS256"}, {"jwk", test::jwk_of(*rsa_, "x")}};
  EXPECT_EQ(refusal(test::sign_jwt(header, claims(now_), *rsa_)),
            "untrusted JWK with no certificate chain");
}

TEST_F(TokenVerifierTest, WrongIssuerOrAudience) {
  json c = claims(now_);
  c["iss"] = "someone-else";
  std::string token = test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, c, *rsa_);
  EXPECT_EQ(refusal(token), "token from untrusted issuer \"someone-else\"");
  c = claims(now_);
  c["aud"] = "other-registry";
  token = test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, c, *rsa_);
  EXPECT_EQ(refusal(token), "token intended for another audience");
  // aud as a list (RFC 7519; Distribution 3) naming the service among others.
  c["aud"] = {"other-registry", kService};
  token = test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, c, *rsa_);
  EXPECT_EQ(refusal(token), "");
  c.erase("aud");
  token = test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, c, *rsa_);
  EXPECT_EQ(refusal(token), "token intended for another audience");
}

TEST_F(TokenVerifierTest, TimesWithLeeway) {
  auto with = [&](const char* claim, int64_t value) {
    json c = claims(now_);
    c[claim] = value;
    return test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, c, *rsa_);
  };
  EXPECT_EQ(refusal(with("exp", now_ - 59)), "");  // within the 60 s leeway
  EXPECT_TRUE(refusal(with("exp", now_ - 61)).starts_with("token expired"));
  EXPECT_EQ(refusal(with("nbf", now_ + 59)), "");
  EXPECT_TRUE(refusal(with("nbf", now_ + 61)).starts_with("token not valid before"));
  // No exp at all reads as 0, long past (as registry:2).
  json c = claims(now_);
  c.erase("exp");
  EXPECT_TRUE(refusal(test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, c, *rsa_))
                  .starts_with("token expired"));
  // A cached token ages: in_window() at a later time.
  std::string why;
  auto v = verifier().verify(with("exp", now_ + 10), now_, &why);
  ASSERT_TRUE(v) << why;
  EXPECT_TRUE(verifier().in_window(*v, now_ + 70, nullptr));
  EXPECT_FALSE(verifier().in_window(*v, now_ + 71, nullptr));
}

TEST_F(TokenVerifierTest, AlgNoneIsRefused) {
  std::string token = test::sign_jwt({{"alg", "none"}, {"kid", rsa_kid()}}, claims(now_), *rsa_);
  EXPECT_EQ(refusal(token), "signing algorithm \"none\" not accepted");
  // ... even with a signature attached.
  std::string signed_token =
      test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, claims(now_), *rsa_);
  std::string header = test::sign_jwt({{"alg", "none"}, {"kid", rsa_kid()}}, json::object(), *rsa_);
  std::string forged =
      header.substr(0, header.find('.')) + signed_token.substr(signed_token.find('.'));
  EXPECT_NE(refusal(forged), "");
}

TEST_F(TokenVerifierTest, Hs256WithThePublicKeyAsSecretIsRefused) {
  // The classic confusion: HMAC keyed by the (public) verification key.
  for (const std::string& secret : {test::public_pem_of(*rsa_), test::pem_of(*rsa_cert_)}) {
    std::string token =
        test::sign_jwt({{"alg", "HS256"}, {"kid", rsa_kid()}}, claims(now_), *rsa_, secret);
    EXPECT_EQ(refusal(token), "signing algorithm \"HS256\" not accepted");
  }
}

TEST_F(TokenVerifierTest, TamperedPayloadIsRefused) {
  std::string token = test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, claims(now_), *rsa_);
  json c = claims(now_);
  c["access"][0]["actions"] = {"pull", "push", "delete"};
  std::string other = test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, c, *rsa_);
  // other's claims with token's signature
  std::size_t a = token.find('.'), b = token.rfind('.');
  std::size_t oa = other.find('.'), ob = other.rfind('.');
  std::string tampered = token.substr(0, a) + other.substr(oa, ob - oa) + token.substr(b);
  EXPECT_EQ(refusal(tampered), "unable to verify token signature");
  // A flipped signature bit.
  std::string flipped = token;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_NE(refusal(flipped), "");
}

TEST_F(TokenVerifierTest, SigningAlgorithmsRestrict) {
  std::string token = test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, claims(now_), *rsa_);
  EXPECT_EQ(refusal(token, {JwsAlgorithm::kRS256}), "");
  EXPECT_EQ(refusal(token, {JwsAlgorithm::kES256, JwsAlgorithm::kEdDSA}),
            "signing algorithm RS256 not in signingalgorithms");
}

TEST_F(TokenVerifierTest, MalformedTokens) {
  for (std::string token : {"", "abc", "a.b", "a.b.c.d", "!!.e30.AA", "e30.e30.A"}) {
    EXPECT_TRUE(refusal(token).starts_with("malformed token")) << token;
  }
  // Well-formed, empty header and claims: no algorithm.
  EXPECT_EQ(refusal("e30.e30."), "signing algorithm \"\" not accepted");
  // A claim of the wrong type, as Go's json.Unmarshal refuses it.
  json c = claims(now_);
  c["exp"] = "tomorrow";
  EXPECT_EQ(refusal(test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, c, *rsa_)),
            "malformed token: malformed claims");
  c = claims(now_);
  c["access"] = "everything";
  EXPECT_EQ(refusal(test::sign_jwt({{"alg", "RS256"}, {"kid", rsa_kid()}}, c, *rsa_)),
            "malformed token: malformed claims");
}

TEST_F(TokenVerifierTest, KeyFilesThatCannotServe) {
  EXPECT_THROW(TokenKeys(dir_.path("missing.pem"), ""), std::runtime_error);
  EXPECT_THROW(TokenKeys(dir_.write("empty.pem", "no certificates here\n"), ""),
               std::runtime_error);
  EXPECT_THROW(TokenKeys("", dir_.write("bad.json", "{\"keys\": 3}")), std::runtime_error);
  EXPECT_THROW(TokenKeys("", dir_.write("empty.json", "{\"keys\": []}")), std::runtime_error);
  EXPECT_THROW(
      TokenKeys("", dir_.write("oct.json", R"({"keys":[{"kty":"oct","kid":"k","k":"AA"}]})")),
      std::runtime_error);
  EXPECT_THROW(TokenKeys("", ""), std::runtime_error);
}

}  // namespace
}  // namespace onsen::auth
