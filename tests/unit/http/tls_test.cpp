// The HTTP server over TLS, with a self-signed certificate made by the OpenSSL API.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "http/server.h"
#include "http/tls.h"
#include "test_client.h"
#include "tls_util.h"

namespace onsen::http {
namespace {

using test::SelfSigned;
using test::TestServer;
using test::TlsClient;
using test::TlsClientOptions;

// A StreamBody read that has its bytes at once.
net::awaitable<size_t> ready(size_t n) {
  co_return n;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('A' + (i * 13 + i / 509) % 26);
  return s;
}

// A descriptor of a file that holds content and has no name (-1 and a test failure on error).
int unlinked_file(const std::string& content) {
  char path[] = "/tmp/onsen_tls_blob_XXXXXX";
  int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  if (fd < 0) return -1;
  ::unlink(path);
  EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  return fd;
}

class TlsTest : public ::testing::Test {
 protected:
  SelfSigned cert_;
};

TEST_F(TlsTest, ServesStringFileAndStreamBodies) {
  const std::string content = pattern((3 << 20) + 77);
  const int fd = unlinked_file(content);
  ASSERT_GE(fd, 0);

  ServerOptions opts = test::tls_options(cert_);
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
                                return ready(k);
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

// A file body over TLS, a range of it, to two clients at once: each gets the range's bytes
// exactly; the first, the server's only file send when it starts, with the unsent bound of
// unsent_bound.h on its socket, the second (two sends) without.
TEST_F(TlsTest, FileBodyRangesToTwoClientsAndTheUnsentBound) {
  const std::string content = pattern((24 << 20) + 4321);
  const int fd = unlinked_file(content);
  ASSERT_GE(fd, 0);
  const uint64_t offset = 1000, length = content.size() - 3000;
  TestServer srv(
      [&](Request&) -> net::awaitable<Response> {
        Response r;
        r.body = FileBody{nullptr, fd, offset, length};
        co_return r;
      },
      test::tls_options(cert_));
  TlsClient first(srv.port(), cert_);
  TlsClient second(srv.port(), cert_);
  first.start_get("/blob");  // more than the socket buffers hold: the send stays in progress
  EXPECT_EQ(test::server_unsent_bound(first.fd()), 64 << 10);
  second.start_get("/blob");
  EXPECT_EQ(test::server_unsent_bound(second.fd()), 0);
  auto a = second.finish_get();
  auto b = first.finish_get();
  EXPECT_EQ(a.body().size(), length);
  EXPECT_TRUE(a.body() == content.substr(offset, length));
  EXPECT_TRUE(b.body() == content.substr(offset, length));
  srv.stop_and_join();
  ::close(fd);
}

TEST_F(TlsTest, MinimumVersionIsEnforced) {
  ServerOptions opts = test::tls_options(cert_);
  opts.tls_min_version = "tls1.3";
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return Response{}; }, opts);
  EXPECT_ANY_THROW(TlsClient(srv.port(), cert_, false, TLS1_2_VERSION));
  TlsClient ok(srv.port(), cert_);
  EXPECT_EQ(ok.request("GET", "/").result_int(), 200);
}

TEST_F(TlsTest, CountsOneSignaturePerFullHandshake) {
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return Response{}; },
                 test::tls_options(cert_));
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsClient c(srv.port(), cert_, false, version);
    EXPECT_EQ(c.request("GET", "/").result_int(), 200);
  }
  TlsCounters n = srv.server().tls_counters();
  EXPECT_EQ(n.handshakes, 2u);
  EXPECT_EQ(n.signatures, 2u);  // TLS 1.2 ServerKeyExchange, TLS 1.3 CertificateVerify
  EXPECT_EQ(n.resumed, 0u);
  EXPECT_EQ(n.client_gone + n.gave_up, 0u);
}

TEST_F(TlsTest, ClientCertificatesRequiredWhenCasGiven) {
  ServerOptions opts = test::tls_options(cert_);
  opts.tls_client_cas = {cert_.cert()};
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return Response{}; }, opts);
  EXPECT_ANY_THROW({
    TlsClient anonymous(srv.port(), cert_);
    anonymous.request("GET", "/");  // TLS 1.3 reports the rejection after the handshake
  });
  TlsClient with_cert(srv.port(), cert_, true);
  EXPECT_EQ(with_cert.request("GET", "/").result_int(), 200);
}

// As Go's net/http (registry:2) answers it, so that clients print something useful.
TEST_F(TlsTest, PlainHttpOnTlsPortGets400) {
  ServerOptions opts = test::tls_options(cert_);
  TestServer srv([](Request&) -> net::awaitable<Response> { co_return Response{}; }, opts);
  const std::string expected =
      "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
  for (std::string request : {"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n",
                              "PUT /v2/a/manifests/b HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    test::RawClient c(srv.port());
    c.send(request);
    EXPECT_EQ(c.read_until_close(), expected) << request;
  }
  // The request line arriving a byte at a time is still recognised.
  test::RawClient slow(srv.port());
  slow.send("H");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  slow.send("EA");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  slow.send("D / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(slow.read_until_close(), expected);
  // Not HTTP and not TLS: closed without an answer.
  test::RawClient junk(srv.port());
  junk.send("hello there\r\n");
  EXPECT_EQ(junk.read_until_close(), "");
  // TLS still works, on a connection after those.
  TlsClient tls(srv.port(), cert_);
  EXPECT_EQ(tls.request("GET", "/").result_int(), 200);
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

// ---- cipher suites ------------------------------------------------------------------------

Handler empty_handler() {
  return [](Request&) -> net::awaitable<Response> { co_return Response{}; };
}

std::string start_error(ServerOptions opts) {
  opts.addr = "127.0.0.1:0";
  return test::start_error(std::move(opts), empty_handler());
}

TEST_F(TlsTest, UnknownCipherSuiteFailsAtStartNamingIt) {
  ServerOptions opts = test::tls_options(cert_);
  opts.tls_cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_BOGUS_WITH_NOTHING"};
  EXPECT_NE(start_error(opts).find("'TLS_BOGUS_WITH_NOTHING'"), std::string::npos)
      << start_error(opts);
  // OpenSSL's own names are not what Distribution accepts.
  opts.tls_cipher_suites = {"ECDHE-ECDSA-AES128-GCM-SHA256"};
  EXPECT_NE(start_error(opts).find("'ECDHE-ECDSA-AES128-GCM-SHA256'"), std::string::npos);
  // Checked without TLS too: the configuration is wrong either way.
  ServerOptions plain;
  plain.tls_cipher_suites = {"TLS_NOPE"};
  EXPECT_NE(start_error(plain).find("'TLS_NOPE'"), std::string::npos);
}

TEST_F(TlsTest, EveryDistributionCipherSuiteNameIsAccepted) {
  const std::vector<std::string> all = {
      "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
      "TLS_RSA_WITH_AES_128_CBC_SHA",
      "TLS_RSA_WITH_AES_256_CBC_SHA",
      "TLS_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
      "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
      "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
      "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
      "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_AES_128_GCM_SHA256",
      "TLS_AES_256_GCM_SHA384",
      "TLS_CHACHA20_POLY1305_SHA256",
  };
  auto cs = detail::resolve_cipher_suites(all);
  ASSERT_EQ(cs.suites.size(), all.size());
  for (const auto& s : cs.suites) {
    // Only the 3DES suites may be missing from a modern OpenSSL.
    if (s.name.find("3DES") == std::string::npos) {
      EXPECT_TRUE(s.available) << s.name;
    }
  }
  EXPECT_NE(cs.tls12_list.find("ECDHE-RSA-AES128-GCM-SHA256"), std::string::npos);
  EXPECT_EQ(cs.tls13_list,
            "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
            "TLS_CHACHA20_POLY1305_SHA256");

  ServerOptions opts = test::tls_options(cert_);
  opts.tls_cipher_suites = all;
  TestServer srv(empty_handler(), opts);
  TlsClient c(srv.port(), cert_);
  EXPECT_EQ(c.request("GET", "/").result_int(), 200);
}

TEST_F(TlsTest, Tls12CipherSuitesAreEnforcedInServerOrder) {
  ServerOptions opts = test::tls_options(cert_);  // an ECDSA certificate
  opts.tls_cipher_suites = {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"};
  TestServer srv(empty_handler(), opts);

  TlsClientOptions tls12;
  tls12.verify_with = &cert_;
  tls12.max_version = TLS1_2_VERSION;
  {
    TlsClient c(srv.port(), tls12);
    EXPECT_EQ(c.version(), "TLSv1.2");
    EXPECT_EQ(c.cipher(), "ECDHE-ECDSA-CHACHA20-POLY1305");  // the server's first choice
    EXPECT_EQ(c.request("GET", "/").result_int(), 200);
  }
  tls12.cipher_list = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256";
  EXPECT_EQ(TlsClient(srv.port(), tls12).cipher(), "ECDHE-ECDSA-AES256-GCM-SHA384");
  tls12.cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256";  // not allowed by the server
  EXPECT_ANY_THROW(TlsClient(srv.port(), tls12));

  // TLS 1.3 was not restricted: its defaults remain.
  TlsClientOptions tls13;
  tls13.verify_with = &cert_;
  tls13.ciphersuites = "TLS_AES_128_GCM_SHA256";
  TlsClient c13(srv.port(), tls13);
  EXPECT_EQ(c13.version(), "TLSv1.3");
  EXPECT_EQ(c13.cipher(), "TLS_AES_128_GCM_SHA256");
}

TEST_F(TlsTest, Tls13CipherSuitesAreEnforced) {
  ServerOptions opts = test::tls_options(cert_);
  opts.tls_cipher_suites = {"TLS_CHACHA20_POLY1305_SHA256",
                            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"};
  TestServer srv(empty_handler(), opts);

  TlsClientOptions o;
  o.verify_with = &cert_;
  {
    TlsClient c(srv.port(), o);
    EXPECT_EQ(c.version(), "TLSv1.3");
    EXPECT_EQ(c.cipher(), "TLS_CHACHA20_POLY1305_SHA256");
    EXPECT_EQ(c.request("GET", "/").result_int(), 200);
  }
  o.ciphersuites = "TLS_AES_256_GCM_SHA384";
  EXPECT_ANY_THROW(TlsClient(srv.port(), o));
  o.ciphersuites.clear();
  o.max_version = TLS1_2_VERSION;
  EXPECT_EQ(TlsClient(srv.port(), o).cipher(), "ECDHE-ECDSA-AES128-GCM-SHA256");
}

TEST_F(TlsTest, OnlyTls13CipherSuitesRefuseTls12) {
  ServerOptions opts = test::tls_options(cert_);
  opts.tls_cipher_suites = {"TLS_AES_256_GCM_SHA384"};
  TestServer srv(empty_handler(), opts);
  TlsClientOptions o;
  o.verify_with = &cert_;
  EXPECT_EQ(TlsClient(srv.port(), o).cipher(), "TLS_AES_256_GCM_SHA384");
  o.max_version = TLS1_2_VERSION;
  EXPECT_ANY_THROW(TlsClient(srv.port(), o));
}

}  // namespace
}  // namespace onsen::http
