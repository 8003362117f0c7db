// The HTTP server over TLS, with a self-signed certificate made by the OpenSSL API.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "http/server.h"
#include "test_client.h"

namespace onsen::http {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using test::TestServer;

// A self-signed EC certificate for "localhost" written to temporary PEM files.
class SelfSigned {
 public:
  SelfSigned() {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    if (!key) throw std::runtime_error("EVP_EC_gen");
    std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
    X509_set_pubkey(x.get(), key.get());
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x.get(), name);
    add_ext(x.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    add_ext(x.get(), NID_basic_constraints, "critical,CA:TRUE");
    if (X509_sign(x.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("X509_sign");

    cert_path_ = temp_path();
    key_path_ = temp_path();
    FILE* f = std::fopen(cert_path_.c_str(), "w");
    PEM_write_X509(f, x.get());
    std::fclose(f);
    f = std::fopen(key_path_.c_str(), "w");
    PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }
  ~SelfSigned() {
    ::unlink(cert_path_.c_str());
    ::unlink(key_path_.c_str());
  }
  const std::string& cert() const { return cert_path_; }
  const std::string& key() const { return key_path_; }

 private:
  static void add_ext(X509* x, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) throw std::runtime_error("X509V3_EXT_conf_nid");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  static std::string temp_path() {
    char path[] = "/tmp/onsen_tls_test_XXXXXX";
    int fd = ::mkstemp(path);
    ::close(fd);
    return path;
  }
  std::string cert_path_, key_path_;
};

// A blocking TLS client; throws on handshake or I/O failure.
class TlsClient {
 public:
  TlsClient(unsigned short port, const SelfSigned& ca, bool present_cert = false,
            int max_version = 0)
      : ctx_(ssl::context::tls_client) {
    ctx_.load_verify_file(ca.cert());
    ctx_.set_verify_mode(ssl::verify_peer);
    if (max_version) SSL_CTX_set_max_proto_version(ctx_.native_handle(), max_version);
    if (present_cert) {
      ctx_.use_certificate_chain_file(ca.cert());
      ctx_.use_private_key_file(ca.key(), ssl::context::pem);
    }
    stream_ = std::make_unique<beast::ssl_stream<tcp::socket>>(ioc_, ctx_);
    SSL_set_tlsext_host_name(stream_->native_handle(), "localhost");
    stream_->set_verify_callback(ssl::host_name_verification("localhost"));
    tcp::socket& s = beast::get_lowest_layer(*stream_);
    s.connect({net::ip::address_v4::loopback(), port});
    timeval tv{5, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    stream_->handshake(ssl::stream_base::client);
  }

  bhttp::response<bhttp::string_body> request(const std::string& method,
                                              const std::string& target) {
    bhttp::request<bhttp::empty_body> req{method == "HEAD" ? bhttp::verb::head : bhttp::verb::get,
                                          target, 11};
    req.set(bhttp::field::host, "localhost");
    bhttp::write(*stream_, req);
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(boost::none);
    if (method == "HEAD") p.skip(true);
    bhttp::read(*stream_, buf_, p);
    return p.release();
  }

 private:
  net::io_context ioc_;
  ssl::context ctx_;
  std::unique_ptr<beast::ssl_stream<tcp::socket>> stream_;  // made once ctx_ is configured
  beast::flat_buffer buf_;
};

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
