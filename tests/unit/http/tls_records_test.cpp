// seal_records / can_seal: a real OpenSSL client and server talking through BIO pairs in memory
// (the server set up as asio sets up its streams); records sealed in batches must read back in
// order, interleaved with records written the ordinary way, over TLS 1.2 and TLS 1.3.
#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "http/tls_records.h"
#include "tls_util.h"

namespace onsen::http::detail {
namespace {

std::string pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + (i * 7 + i / 331) % 23);
  return s;
}

// One endpoint: an SSL object whose traffic goes through a BIO pair, as in asio's engine.
struct End {
  SSL* ssl = nullptr;
  BIO* wire = nullptr;  // our side of the pair: what the SSL object sends comes out here

  End(SSL_CTX* ctx, bool server) {
    ssl = SSL_new(ctx);
    BIO* internal = nullptr;
    BIO_new_bio_pair(&internal, 0, &wire, 0);
    SSL_set_bio(ssl, internal, internal);
    if (server) {
      SSL_set_accept_state(ssl);
    } else {
      SSL_set_connect_state(ssl);
    }
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
  }
  ~End() {
    SSL_free(ssl);
    BIO_free(wire);
  }
};

class TlsRecordsTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    auto cert = test::make_cert();
    server_ctx_ = SSL_CTX_new(TLS_server_method());
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    ASSERT_TRUE(server_ctx_ && client_ctx_);
    std::unique_ptr<BIO, decltype(&BIO_free)> cb(
        BIO_new_mem_buf(cert.cert_pem.data(), static_cast<int>(cert.cert_pem.size())), BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> kb(
        BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size())), BIO_free);
    X509* x = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr);
    EVP_PKEY* k = PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr);
    ASSERT_EQ(SSL_CTX_use_certificate(server_ctx_, x), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey(server_ctx_, k), 1);
    X509_free(x);
    EVP_PKEY_free(k);
    SSL_CTX_set_min_proto_version(server_ctx_, GetParam());
    SSL_CTX_set_max_proto_version(server_ctx_, GetParam());
    server_ = std::make_unique<End>(server_ctx_, true);
    client_ = std::make_unique<End>(client_ctx_, false);
  }
  void TearDown() override {
    server_.reset();
    client_.reset();
    SSL_CTX_free(server_ctx_);
    SSL_CTX_free(client_ctx_);
    ERR_clear_error();
  }

  // Moves whatever each side has sent to the other side.
  void pump() {
    char buf[4096];
    for (bool moved = true; moved;) {
      moved = false;
      for (auto [from, to] :
           {std::pair{server_.get(), client_.get()}, std::pair{client_.get(), server_.get()}}) {
        while (BIO_ctrl_pending(from->wire) > 0 && BIO_ctrl_get_write_guarantee(to->wire) > 0) {
          size_t room = std::min(sizeof buf, BIO_ctrl_get_write_guarantee(to->wire));
          int n = BIO_read(from->wire, buf, static_cast<int>(room));
          ASSERT_GT(n, 0);
          ASSERT_EQ(BIO_write(to->wire, buf, n), n);
          moved = true;
        }
      }
    }
  }

  void handshake() {
    for (int i = 0; i < 100; ++i) {
      int c = SSL_do_handshake(client_->ssl);
      int s = SSL_do_handshake(server_->ssl);
      pump();
      if (c == 1 && s == 1) break;
    }
    ASSERT_TRUE(SSL_is_init_finished(server_->ssl));
    ASSERT_TRUE(SSL_is_init_finished(client_->ssl));
    // TLS 1.3 session tickets: let the client consume them.
    char none;
    SSL_read(client_->ssl, &none, 0);
    pump();
  }

  // Delivers sealed records to the client as if they had come over the socket.
  void deliver(std::string_view records) {
    while (!records.empty()) {
      size_t room = BIO_ctrl_get_write_guarantee(client_->wire);
      ASSERT_GT(room, 0u) << "client input full";
      int n = BIO_write(client_->wire, records.data(),
                        static_cast<int>(std::min(room, records.size())));
      ASSERT_GT(n, 0);
      records.remove_prefix(static_cast<size_t>(n));
      drain_client();
    }
  }

  // Reads what the client can decrypt into received_.
  void drain_client() {
    char buf[16384];
    for (;;) {
      size_t n = 0;
      if (SSL_read_ex(client_->ssl, buf, sizeof buf, &n) != 1) break;
      received_.append(buf, n);
    }
    ERR_clear_error();
    pump();
  }

  // Sends through the SSL object's own BIO pair, the way asio does.
  void write_plainly(std::string_view data) {
    while (!data.empty()) {
      size_t n = 0;
      if (SSL_write_ex(server_->ssl, data.data(), data.size(), &n) == 1) data.remove_prefix(n);
      pump();
      drain_client();
    }
  }

  SSL_CTX* server_ctx_ = nullptr;
  SSL_CTX* client_ctx_ = nullptr;
  std::unique_ptr<End> server_, client_;
  std::string received_;
};

TEST_P(TlsRecordsTest, SealedRecordsInterleaveWithOrdinaryOnesInOrder) {
  EXPECT_FALSE(can_seal(server_->ssl)) << "before the handshake";
  handshake();
  ASSERT_TRUE(can_seal(server_->ssl));

  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n";
  const std::string body1 = pattern(200000, 'a');
  const std::string between = pattern(5000, 'K');
  const std::string body2 = pattern(100000, 'A');

  std::string sealed;
  const std::array<std::string_view, 2> first{head, body1};
  ASSERT_TRUE(seal_records(server_->ssl, first, sealed));
  EXPECT_GT(sealed.size(), head.size() + body1.size());  // record headers and tags
  EXPECT_TRUE(can_seal(server_->ssl)) << "the BIO pair is back and empty";
  deliver(sealed);
  write_plainly(between);
  ASSERT_TRUE(can_seal(server_->ssl));
  sealed.clear();
  const std::array<std::string_view, 2> second{std::string_view(), body2};
  ASSERT_TRUE(seal_records(server_->ssl, second, sealed));
  deliver(sealed);

  EXPECT_TRUE(received_ == head + body1 + between + body2)
      << "received " << received_.size() << " bytes";
}

TEST_P(TlsRecordsTest, NotWhileTheStreamHasUnsentRecords) {
  handshake();
  size_t n = 0;
  ASSERT_EQ(SSL_write_ex(server_->ssl, "x", 1, &n), 1);  // in the pair, not yet sent
  EXPECT_FALSE(can_seal(server_->ssl));
  pump();
  drain_client();
  EXPECT_EQ(received_, "x");
  EXPECT_TRUE(can_seal(server_->ssl));
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsRecordsTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION), [](const auto& info) {
                           return info.param == TLS1_2_VERSION ? std::string("Tls12")
                                                               : std::string("Tls13");
                         });

}  // namespace
}  // namespace onsen::http::detail
