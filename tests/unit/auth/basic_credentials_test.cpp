// Parsing of "Authorization: Basic ..." values.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "auth/basic_credentials.h"
#include "support/base64.h"

namespace onsen::auth {
namespace {

struct Parsed {
  std::string user, password;
};

std::optional<Parsed> parse(std::string_view header) {
  auto c = parse_basic_authorization(header);
  if (!c) return std::nullopt;
  return Parsed{c->user, c->password};
}

TEST(BasicCredentials, DecodesUserAndPassword) {
  auto p = parse("Basic dGVzdHVzZXI6dGVzdHBhc3N3b3Jk");  // testuser:testpassword
  ASSERT_TRUE(p);
  EXPECT_EQ(p->user, "testuser");
  EXPECT_EQ(p->password, "testpassword");
}

TEST(BasicCredentials, SchemeIsCaseInsensitiveAndWhitespaceTolerated) {
  for (const char* h :
       {"basic dGVzdHVzZXI6dGVzdHBhc3N3b3Jk", "BASIC dGVzdHVzZXI6dGVzdHBhc3N3b3Jk",
        "bAsIc dGVzdHVzZXI6dGVzdHBhc3N3b3Jk", "Basic   dGVzdHVzZXI6dGVzdHBhc3N3b3Jk",
        "Basic\tdGVzdHVzZXI6dGVzdHBhc3N3b3Jk", "  Basic dGVzdHVzZXI6dGVzdHBhc3N3b3Jk \t"}) {
    SCOPED_TRACE(h);
    auto p = parse(h);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->user, "testuser");
    EXPECT_EQ(p->password, "testpassword");
  }
}

TEST(BasicCredentials, Padding) {
  // "a:b" -> YTpi (no padding); "a:bc" -> YTpiYw== ; "a:bcd" -> YTpiY2Q=
  EXPECT_EQ(parse("Basic YTpi")->password, "b");
  EXPECT_EQ(parse("Basic YTpiYw==")->password, "bc");
  EXPECT_EQ(parse("Basic YTpiY2Q=")->password, "bcd");
  // Unpadded forms of the same are accepted too.
  EXPECT_EQ(parse("Basic YTpiYw")->password, "bc");
  EXPECT_EQ(parse("Basic YTpiY2Q")->password, "bcd");
  // Wrong or misplaced padding is not.
  EXPECT_FALSE(parse("Basic YTpiYw="));
  EXPECT_FALSE(parse("Basic YTpiY2Q=="));
  EXPECT_FALSE(parse("Basic YTpi===="));
  EXPECT_FALSE(parse("Basic YTpiYw==="));
  EXPECT_FALSE(parse("Basic YT=iYw=="));
  EXPECT_FALSE(parse("Basic YTpiY"));  // 5 characters: a dangling 6 bits
  EXPECT_FALSE(parse("Basic ===="));
  EXPECT_FALSE(parse("Basic ="));
}

TEST(BasicCredentials, PasswordMayContainColonsAndBeEmpty) {
  auto p = parse("Basic dXNlcjpwYTpzczo=");  // user:pa:ss:
  ASSERT_TRUE(p);
  EXPECT_EQ(p->user, "user");
  EXPECT_EQ(p->password, "pa:ss:");
  p = parse("Basic dXNlcjo=");  // user:
  ASSERT_TRUE(p);
  EXPECT_EQ(p->user, "user");
  EXPECT_EQ(p->password, "");
}

TEST(BasicCredentials, RefusesMalformed) {
  const char* bad[] = {
      "",                                                    // absent
      "dGVzdHVzZXI6dGVzdHBhc3N3b3Jk",                        // no scheme
      "Bearer dGVzdHVzZXI6dGVzdHBhc3N3b3Jk",                 // wrong scheme
      "Digest username=\"x\"",                               // wrong scheme
      "Basicx dGVzdHVzZXI6dGVzdHBhc3N3b3Jk",                 // scheme prefix only
      "BasicdGVzdHVzZXI6dGVzdHBhc3N3b3Jk",                   // no separator
      "Basic",                                               // no token
      "Basic ",                                              // no token
      "   ",                                                 // blank
      "Basic dGVzdHVzZXI6dGVzdHBhc3N3b3Jk*",                 // bad character
      "Basic dGVzdHVz ZXI6dGVzdHBhc3N3b3Jk",                 // space inside
      "Basic dGVzdHVzZXI6dGVzdHBh\nc3N3b3Jk",                // newline inside
      "Basic dGVzdC11c2VyLV9-",                              // URL-safe alphabet
      "Basic dGVzdHVzZXI=",                                  // testuser: no colon
      "Basic OnBhc3N3b3Jk",                                  // :password: empty user
      "Basic Og==",                                          // ":" only
      "Basic dXNlcgBhOnBhc3M=",                              // user\0a:pass: NUL in user
      "Basic dXNlcjpwYXNzAHh5eg==",                          // user:pass\0xyz: NUL in password
      "Basic dGVzdHVzZXI6dGVzdHBhc3N3b3Jk, Basic dGVzdA==",  // two credentials
  };
  for (const char* h : bad) {
    SCOPED_TRACE(h);
    EXPECT_FALSE(parse(h));
  }
}

TEST(BasicCredentials, HeaderSizeLimit) {
  // "u:" + password, encoded, padded to exactly the limit with leading spaces.
  std::string password(3000, 'p');
  std::string raw = "u:" + password;
  std::string header = "Basic " + test::base64(raw);
  ASSERT_LT(header.size(), kMaxAuthorizationHeader);
  auto p = parse(header);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->password, password);
  std::string at_limit = std::string(kMaxAuthorizationHeader - header.size(), ' ') + header;
  EXPECT_TRUE(parse(at_limit));
  EXPECT_FALSE(parse(" " + at_limit));  // one byte over
  EXPECT_FALSE(parse("Basic " + std::string(1 << 20, 'A')));
}

TEST(BasicCredentials, RandomGarbageNeverCrashes) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255), length(0, 64);
  const std::string prefixes[] = {"", "Basic ", "basic  ", "Basic =", "Basic YT"};
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string h = prefixes[i % std::size(prefixes)];
    int n = length(rng);
    for (int j = 0; j < n; ++j) {
      // Mostly base64 characters so that decoding is exercised, sometimes anything.
      int b = byte(rng);
      h += b < 200 ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="[b % 65]
                   : static_cast<char>(b);
    }
    if (auto c = parse_basic_authorization(h)) {
      ++parsed;
      EXPECT_FALSE(c->user.empty());
      EXPECT_EQ(c->user.find(':'), std::string::npos);
    }
  }
  EXPECT_GT(parsed, 0);
}

TEST(BasicCredentials, SecureWipeEmptiesTheString) {
  std::string s = "secret";
  secure_wipe(s);
  EXPECT_TRUE(s.empty());
  BasicCredentials a;
  a.user = "u";
  a.password = "p";
  BasicCredentials b(std::move(a));
  EXPECT_EQ(b.password, "p");
  EXPECT_TRUE(a.password.empty());  // NOLINT(bugprone-use-after-move): moves wipe the source
}

}  // namespace
}  // namespace onsen::auth
