// check_request_head and make_request on heads built in memory, without a connection.
#include "http/request_head.h"

#include <gtest/gtest.h>

#include <boost/beast/http/message.hpp>

namespace onsen::http::detail {
namespace {

namespace bhttp = boost::beast::http;

bhttp::request_header<> head(unsigned version, std::string_view target = "/v2/") {
  bhttp::request_header<> h;
  h.method(bhttp::verb::get);
  h.target(target);
  h.version(version);
  return h;
}

TEST(RequestHeadTest, RefusesWhatCannotBeServed) {
  auto h = head(11);
  ASSERT_TRUE(check_request_head(h));
  EXPECT_EQ(check_request_head(h)->status, 400u);  // HTTP/1.1 without Host
  h.insert(bhttp::field::host, "x");
  EXPECT_FALSE(check_request_head(h));
  h.insert(bhttp::field::host, "y");
  EXPECT_EQ(check_request_head(h)->status, 400u);  // two Hosts

  auto old = head(10);  // HTTP/1.0 needs no Host
  EXPECT_FALSE(check_request_head(old));
  EXPECT_EQ(check_request_head(head(20))->status, 505u);

  auto te = head(11);
  te.insert(bhttp::field::host, "x");
  te.insert(bhttp::field::transfer_encoding, " chunked ");
  EXPECT_FALSE(check_request_head(te));
  te.insert(bhttp::field::content_length, "3");  // smuggling: both framings
  EXPECT_EQ(check_request_head(te)->status, 400u);
  auto gzip = head(11);
  gzip.insert(bhttp::field::host, "x");
  gzip.insert(bhttp::field::transfer_encoding, "gzip, chunked");
  EXPECT_EQ(check_request_head(gzip)->status, 400u);
}

TEST(RequestHeadTest, RequestFromHead) {
  auto h = head(11, "http://registry:5000/v2/a/tags/list?n=2&last=b");
  h.insert(bhttp::field::host, "registry:5000");
  h.insert("X-Custom", "v");
  Request req = make_request(h);
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "http://registry:5000/v2/a/tags/list?n=2&last=b");
  EXPECT_EQ(req.path, "/v2/a/tags/list");
  EXPECT_EQ(req.query, "n=2&last=b");
  EXPECT_EQ(req.headers.get("host"), "registry:5000");
  EXPECT_EQ(req.headers.get("x-custom"), "v");
  EXPECT_EQ(make_request(head(11, "http://registry")).path, "/");
}

}  // namespace
}  // namespace onsen::http::detail
