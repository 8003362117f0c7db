#include "auth/jose_encoding.h"

#include <gtest/gtest.h>

namespace onsen::auth {
namespace {

TEST(JoseEncoding, Base64UrlRoundTripsWithoutPadding) {
  for (std::string bytes : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xfb\xff\xfe"}) {
    std::string text = base64url_encode(bytes);
    EXPECT_EQ(text.find('='), std::string::npos);
    EXPECT_EQ(base64url_decode(text), bytes) << text;
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(JoseEncoding, Base64UrlRefusesOtherSpellings) {
  EXPECT_FALSE(base64url_decode("Zm9v="));  // padding
  EXPECT_FALSE(base64url_decode("Zm9+"));   // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm9vY"));  // 1 mod 4: no encoder writes it
  EXPECT_FALSE(base64url_decode("Zh"));     // leftover bits not zero ("Zg" is "f")
  EXPECT_EQ(base64url_decode("Zg"), "f");
  EXPECT_FALSE(base64url_decode("Zm 9v"));
}

TEST(JoseEncoding, StandardBase64NeedsPadding) {
  EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_FALSE(base64_decode("Zm9vYg"));
  EXPECT_FALSE(base64_decode("Zm9v_w=="));
}

TEST(JoseEncoding, Base32AsGo) {
  // RFC 4648 §10's vectors, without the padding libtrust trims.
  EXPECT_EQ(base32_encode("f"), "MY");
  EXPECT_EQ(base32_encode("foobar"), "MZXW6YTBOI");
  EXPECT_EQ(base32_encode("fooba"), "MZXW6YTB");
}

}  // namespace
}  // namespace onsen::auth
