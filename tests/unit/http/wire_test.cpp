// Response-head formatting and Headers.
#include "http/wire.h"

#include <gtest/gtest.h>

namespace onsen::http::detail {
namespace {

TEST(HeadersTest, GetIsCaseInsensitiveAndSetReplacesAll) {
  Headers h;
  h.add("Content-Type", "a");
  h.add("content-type", "b");
  h.add("X-Other", "c");
  EXPECT_EQ(h.get("CONTENT-TYPE"), "a");
  h.set("Content-TYPE", "z");
  EXPECT_EQ(h.get("content-type"), "z");
  EXPECT_EQ(h.fields().size(), 2u);
  EXPECT_FALSE(h.get("nope"));
}

TEST(WireTest, HeadHasStatusHeadersLengthAndDate) {
  Headers h;
  h.add("Docker-Content-Digest", "sha256:abc");
  h.add("Content-Length", "12");      // ours
  h.add("Connection", "keep-alive");  // ours
  std::string out;
  HeadOptions o;
  o.status = 201;
  o.content_length = 42;
  EXPECT_EQ(append_response_head(out, o, h, {{"X-Frame-Options", "DENY"}}), 0u);
  EXPECT_EQ(out.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Docker-Content-Digest: sha256:abc\r\n"), std::string::npos);
  EXPECT_NE(out.find("X-Frame-Options: DENY\r\n"), std::string::npos);
  EXPECT_NE(out.find("Content-Length: 42\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Content-Length: 12"), std::string::npos);
  EXPECT_EQ(out.find("Connection"), std::string::npos);
  EXPECT_NE(out.find("\r\nDate: "), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(WireTest, InjectedHeadersAreDropped) {
  Headers h;
  h.add("Location", "/v2/x\r\nSet-Cookie: evil=1");
  h.add("Bad Name", "v");
  std::string out;
  HeadOptions o;
  o.close = true;
  EXPECT_EQ(append_response_head(out, o, h, {}), 2u);
  EXPECT_EQ(out.find("evil"), std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
}

TEST(WireTest, UnknownStatusAndHttp10) {
  std::string out;
  HeadOptions o;
  o.status = 597;
  o.version = 10;
  o.keep_alive_10 = true;
  append_response_head(out, o, Headers{}, {});
  EXPECT_EQ(out.rfind("HTTP/1.0 597 \r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Content-Length"), std::string::npos);
}

TEST(WireTest, DateLooksLikeImfFixdate) {
  auto d = http_date();
  ASSERT_EQ(d.size(), 29u) << d;
  EXPECT_EQ(d.substr(d.size() - 4), " GMT");
  EXPECT_EQ(d[3], ',');
}

}  // namespace
}  // namespace onsen::http::detail
