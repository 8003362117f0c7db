// TLS certificate rotation: the server re-reads its certificate, key and client CA files when they
// change, for new connections only, and keeps the previous context while the new files are bad.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "http/server.h"
#include "test_client.h"
#include "tls_util.h"

namespace onsen::http {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using test::SelfSigned;
using test::TestServer;
using test::TlsClient;
using test::TlsClientOptions;

Handler ok_handler() {
  return [](Request&) -> net::awaitable<Response> {
    Response r;
    r.body = std::string("ok");
    co_return r;
  };
}

// The certificate a new connection is shown (no verification: any certificate will do).
std::string presented(unsigned short port) {
  TlsClient c(port, TlsClientOptions{});
  EXPECT_EQ(c.request("GET", "/").body(), "ok");
  return c.peer_fingerprint();
}

// Polls new connections until one presents `fingerprint`; how long that took, or nullopt.
std::optional<std::chrono::milliseconds> wait_presented(unsigned short port,
                                                        const std::string& fingerprint,
                                                        std::chrono::milliseconds limit) {
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    if (presented(port) == fingerprint) return elapsed;
    if (elapsed > limit) return std::nullopt;
    std::this_thread::sleep_for(50ms);
  }
}

TEST(TlsReloadTest, NewConnectionsGetRotatedCertificateOldOnesKeepTheirs) {
  SelfSigned files("localhost", 1);  // A, in the files the server reads
  const auto a = files.pem();
  const auto b = test::make_cert("localhost", 2);
  ASSERT_NE(a.fingerprint, b.fingerprint);

  ServerOptions opts;
  opts.tls_certificate = files.cert();
  opts.tls_key = files.key();
  ASSERT_EQ(opts.tls_reload_interval, 2000ms);  // the default, exercised as is
  TestServer srv(ok_handler(), opts);

  TlsClient old_conn(srv.port(), TlsClientOptions{});
  EXPECT_EQ(old_conn.peer_fingerprint(), a.fingerprint);
  EXPECT_EQ(old_conn.request("GET", "/").body(), "ok");

  // Rotation as cert-manager or `mv` does it: new inodes, certificate first (for a moment the
  // certificate and key do not match: that state must be skipped, not served).
  test::replace_file(files.cert(), b.cert_pem);
  std::this_thread::sleep_for(10ms);
  test::replace_file(files.key(), b.key_pem);

  auto took = wait_presented(srv.port(), b.fingerprint, 8s);
  ASSERT_TRUE(took) << "new connections never presented the rotated certificate";
  EXPECT_LE(*took, 5s);

  // The established connection still works, on its original certificate.
  EXPECT_EQ(old_conn.request("GET", "/").body(), "ok");
  EXPECT_EQ(old_conn.peer_fingerprint(), a.fingerprint);
  // And new ones stay on B.
  EXPECT_EQ(presented(srv.port()), b.fingerprint);
}

TEST(TlsReloadTest, BrokenFilesKeepThePreviousCertificateUntilFixed) {
  SelfSigned files("localhost", 1);
  const auto a = files.pem();
  const auto b = test::make_cert("localhost", 2);

  TestServer srv(ok_handler(), test::tls_options(files, 100ms));
  EXPECT_EQ(presented(srv.port()), a.fingerprint);

  // A key overwritten in place with garbage, then half of the new key (a write in progress).
  test::write_in_place(files.key(), "not a key\n");
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(presented(srv.port()), a.fingerprint);
  test::write_in_place(files.cert(), b.cert_pem);
  test::write_in_place(files.key(), b.key_pem.substr(0, b.key_pem.size() / 2));
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(presented(srv.port()), a.fingerprint);

  // A missing certificate file is just as bad.
  ASSERT_EQ(::unlink(files.cert().c_str()), 0);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(presented(srv.port()), a.fingerprint);

  // Completed: the next check picks B up.
  test::write_in_place(files.key(), b.key_pem);
  test::write_in_place(files.cert(), b.cert_pem);
  auto took = wait_presented(srv.port(), b.fingerprint, 5s);
  ASSERT_TRUE(took) << "the fixed files were never loaded";
  EXPECT_LE(*took, 2s);
}

TEST(TlsReloadTest, ClientCaFileIsReloadedToo) {
  SelfSigned server("localhost", 1);
  SelfSigned client_a("client-a", 10);
  SelfSigned client_b("client-b", 11);
  std::string ca_path = test::temp_path();
  test::write_in_place(ca_path, client_a.pem().cert_pem);

  auto opts = test::tls_options(server, 100ms);
  opts.tls_client_cas = {ca_path};
  TestServer srv(ok_handler(), opts);

  auto request_as = [&](const SelfSigned& who) {
    TlsClientOptions o;
    o.present = &who;
    TlsClient c(srv.port(), o);
    return c.request("GET", "/").body();  // TLS 1.3 reports a rejection here
  };
  EXPECT_EQ(request_as(client_a), "ok");
  EXPECT_ANY_THROW(request_as(client_b));

  test::replace_file(ca_path, client_b.pem().cert_pem);
  bool switched = false;
  for (int i = 0; i < 50 && !switched; ++i) {
    std::this_thread::sleep_for(100ms);
    try {
      switched = request_as(client_b) == "ok";
    } catch (const std::exception&) {
    }
  }
  EXPECT_TRUE(switched);
  EXPECT_ANY_THROW(request_as(client_a));
  ::unlink(ca_path.c_str());
}

TEST(TlsReloadTest, ZeroIntervalNeverRereads) {
  SelfSigned files("localhost", 1);
  const auto a = files.pem();
  const auto b = test::make_cert("localhost", 2);
  TestServer srv(ok_handler(), test::tls_options(files, 0ms));
  test::replace_file(files.cert(), b.cert_pem);
  test::replace_file(files.key(), b.key_pem);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(presented(srv.port()), a.fingerprint);
}

}  // namespace
}  // namespace onsen::http
