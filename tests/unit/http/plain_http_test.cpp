// classify_first_bytes: which first bytes on the TLS port are a plain-HTTP request.
#include "http/plain_http.h"

#include <gtest/gtest.h>

#include <string>

namespace onsen::http::detail {
namespace {

TEST(PlainHttpTest, RequestLinesAreRecognisedFromFiveBytes) {
  for (const char* line : {"GET /v2/ HTTP/1.1", "HEAD /v2/ HTTP/1.1", "POST /v2/a/blobs/uploads/",
                           "PUT /v2/a/manifests/1", "OPTIONS * HTTP/1.1", "PATCH /v2/a/blobs/u",
                           "DELETE /v2/a/manifests/sha256:0"}) {
    EXPECT_EQ(classify_first_bytes(line), FirstBytes::plain_http) << line;
    EXPECT_EQ(classify_first_bytes(std::string(line).substr(0, 5)), FirstBytes::plain_http);
    EXPECT_EQ(classify_first_bytes(std::string(line).substr(0, 4)), FirstBytes::need_more);
  }
  EXPECT_EQ(classify_first_bytes(""), FirstBytes::need_more);
}

TEST(PlainHttpTest, TlsAndOtherBytesGoToTheHandshake) {
  // A TLS 1.0-1.3 ClientHello record header: handshake (22), version 3.1, length.
  EXPECT_EQ(classify_first_bytes(std::string("\x16\x03\x01\x02\x00", 5)), FirstBytes::tls);
  EXPECT_EQ(classify_first_bytes(std::string("\x16", 1)), FirstBytes::tls);
  EXPECT_EQ(classify_first_bytes("GETX /"), FirstBytes::tls);
  EXPECT_EQ(classify_first_bytes("get / HTTP/1.1"), FirstBytes::tls);
  EXPECT_EQ(classify_first_bytes("SSH-2.0-OpenSSH"), FirstBytes::tls);
}

}  // namespace
}  // namespace onsen::http::detail
