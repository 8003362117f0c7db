// The HTTP server over TLS, with a self-signed certificate made by the OpenSSL API.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "http/server.h"
#include "test_client.h"
#include "tls_util.h"

namespace onsen::http {
namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using test::SelfSigned;
using test::TestServer;
using test::TlsClient;

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('A' + (i * 13 + i / 509) % 26);
  return s;
}

class TlsTest : public ::testing::Test {
 protected:
  SelfSigned cert_;
};

TEST_F(TlsTest, ServesStringFileAndStreamBodies) {
  const std::string content = pattern((3 << 20) + 77);
  char path[] = "/tmp/onsen_tls_blob_XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::unlink(path);

  ServerOptions opts;
  opts.tls_certificate = cert_.cert();
  opts.tls_key = cert_.key();
  TestServer srv(
      [&](Request& req) -> net::awaitable<Response> {
        Response r;
        if (req.path == "/file") {
          r.body = FileBody{nullptr, fd, 5, content.size() - 10};
        } else if (req.path == "/stream") {
          auto pos = std::make_shared<size_t>(0);
          r.body = StreamBody{pos,
                              [&content, pos](char* buf, size_t n) {
                                size_t k = std::min(n, content.size() - *pos);
                                std::memcpy(buf, content.data() + *pos, k);
                                *pos += k;
                                return k;
                              },
                              content.size()};
        } else {
          r.body = std::string("secure");
        }
        co_return r;
      },
      opts);
  TlsClient c(srv.port(), cert_);
  EXPECT_EQ(c.request("GET", "/").body(), "secure");
  auto f = c.request("GET", "/file");
  EXPECT_EQ(f.body().size(), content.size() - 10);
  EXPECT_TRUE(f.body() == content.substr(5, content.size() - 10));
  auto h = c.request("HEAD", "/file");
  EXPECT_EQ(h[bhttp::field::content_length], std::to_string(content.size() - 10));
  EXPECT_TRUE(c.request("GET", "/stream").body() == content);
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), static_cast<off_t>(content.size()));  // untouched by pread
  srv.stop_and_join();
  ::close(fd);
}

TEST_F(TlsTest, MinimumVersionIsEnforced) {
  ServerOptions opts;
  opts.tls_certificate = cert_.cert();
  opts.tls_key = cert_.key();
  opts.tls_min_version = "tls1.3";
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return Response{}; }, opts);
  EXPECT_ANY_THROW(TlsClient(srv.port(), cert_, false, TLS1_2_VERSION));
  TlsClient ok(srv.port(), cert_);
  EXPECT_EQ(ok.request("GET", "/").result_int(), 200);
}

TEST_F(TlsTest, ClientCertificatesRequiredWhenCasGiven) {
  ServerOptions opts;
  opts.tls_certificate = cert_.cert();
  opts.tls_key = cert_.key();
  opts.tls_client_cas = {cert_.cert()};
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return Response{}; }, opts);
  EXPECT_ANY_THROW({
    TlsClient anonymous(srv.port(), cert_);
    anonymous.request("GET", "/");  // TLS 1.3 reports the rejection after the handshake
  });
  TlsClient with_cert(srv.port(), cert_, true);
  EXPECT_EQ(with_cert.request("GET", "/").result_int(), 200);
}

TEST_F(TlsTest, PlainHttpOnTlsPortIsClosed) {
  ServerOptions opts;
  opts.tls_certificate = cert_.cert();
  opts.tls_key = cert_.key();
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return Response{}; }, opts);
  test::RawClient c(srv.port());
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto rest = c.read_until_close();
  EXPECT_EQ(rest.find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(TlsTest, BadVersionOrKeyFailsAtStart) {
  ServerOptions opts;
  opts.addr = "127.0.0.1:0";
  opts.tls_certificate = cert_.cert();
  opts.tls_key = cert_.key();
  opts.tls_min_version = "ssl3";
  Server s1(opts, [](Request&) -> net::awaitable<Response> { co_return Response{}; });
  EXPECT_THROW(s1.start(), std::runtime_error);
  opts.tls_min_version = "tls1.2";
  opts.tls_key = cert_.cert();  // not a key
  Server s2(opts, [](Request&) -> net::awaitable<Response> { co_return Response{}; });
  EXPECT_THROW(s2.start(), std::runtime_error);
}

}  // namespace
}  // namespace onsen::http
