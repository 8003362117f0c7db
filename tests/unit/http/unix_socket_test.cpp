// The HTTP server on a unix-domain stream socket (net: unix): the same sessions as over TCP,
// plain or TLS, plus the socket file's life cycle (stale file replaced, mode, removal at stop).
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cstring>
#include <fstream>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "http/server.h"
#include "support/temp_dir.h"
#include "test_client.h"
#include "tls_util.h"

namespace onsen::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using test::RawClient;
using test::TestServer;
using test::UnixPath;

// A private directory for socket files, under /tmp: a socket path must fit sun_path (108 bytes).
struct SocketDir : onsen::test::TempDir {
  SocketDir() : TempDir("onsen_unix", "/tmp") {}
  std::string socket() const { return path("s.sock"); }
  std::string file() const { return path("file"); }
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

ServerOptions unix_options(const std::string& path) {
  ServerOptions o;
  o.net = "unix";
  o.addr = path;
  return o;
}

Handler echo_handler(std::string* remote = nullptr, std::mutex* mu = nullptr) {
  return [remote, mu](Request& req) -> net::awaitable<Response> {
    std::string body;
    char buf[4096];
    for (;;) {
      size_t n = co_await req.body->read_some(buf, sizeof buf);
      if (n == 0) break;
      body.append(buf, n);
    }
    if (remote) {
      std::lock_guard lock(*mu);
      *remote = req.remote;
    }
    Response r;
    r.body = fmt::format("{} {} {}", req.method, req.path, body);
    co_return r;
  };
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 11 + i / 257) % 26);
  return s;
}

TEST(UnixSocketTest, ServesRequestsWithKeepAliveBodiesAndFiles) {
  SocketDir dir;
  const std::string content = pattern((2 << 20) + 123);
  char path[] = "/tmp/onsen_unix_blob_XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::unlink(path);

  std::mutex mu;
  std::string remote;
  auto echo = echo_handler(&remote, &mu);
  TestServer srv(
      [&](Request& req) -> net::awaitable<Response> {
        if (req.path == "/file") {
          Response r;
          r.body = FileBody{nullptr, fd, 3, content.size() - 3};  // sendfile to a unix socket
          co_return r;
        }
        co_return co_await echo(req);
      },
      unix_options(dir.socket()));
  EXPECT_EQ(srv.port(), 0);

  struct stat st {};
  ASSERT_EQ(::stat(dir.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  RawClient c(UnixPath{dir.socket()});
  c.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  auto r1 = c.read_response();
  EXPECT_EQ(r1.result_int(), 200);
  EXPECT_EQ(r1.body(), "POST /up hello");
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(remote, "unix");
  }
  c.send("GET /file HTTP/1.1\r\nHost: x\r\n\r\n");  // same connection
  auto r2 = c.read_response();
  EXPECT_EQ(r2.body().size(), content.size() - 3);
  EXPECT_TRUE(r2.body() == content.substr(3));
  c.send("GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(c.read_response().body(), "GET /again ");
  EXPECT_TRUE(c.closed_by_peer());

  srv.stop_and_join();
  EXPECT_FALSE(exists(dir.socket())) << "the socket file outlived the server";
  ::close(fd);
}

TEST(UnixSocketTest, StaleSocketFileIsReplaced) {
  SocketDir dir;
  {
    // What a crashed server leaves: a socket file nobody listens on.
    int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, dir.socket().c_str());
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ::close(s);
    ASSERT_TRUE(exists(dir.socket()));
  }
  TestServer srv(echo_handler(), unix_options(dir.socket()));
  RawClient c(UnixPath{dir.socket()});
  c.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response().body(), "GET /x ");
}

TEST(UnixSocketTest, LiveSocketIsNotTakenOver) {
  SocketDir dir;
  TestServer first(echo_handler(), unix_options(dir.socket()));
  Server second(unix_options(dir.socket()), echo_handler());
  try {
    second.start();
    ADD_FAILURE() << "a second server took over a live socket";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("another server is listening"), std::string::npos)
        << e.what();
  }
  RawClient c(UnixPath{dir.socket()});  // the first one still serves
  c.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response().body(), "GET /first ");
}

TEST(UnixSocketTest, OtherFilesAreNeverRemoved) {
  SocketDir dir;
  std::ofstream(dir.file()) << "precious";
  Server s(unix_options(dir.file()), echo_handler());
  try {
    s.start();
    ADD_FAILURE() << "listened over a regular file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a socket"), std::string::npos) << e.what();
  }
  std::ifstream in(dir.file());
  std::string got;
  in >> got;
  EXPECT_EQ(got, "precious");
}

TEST(UnixSocketTest, BadAddressesFailClearly) {
  auto start_error = [](ServerOptions o) {
    return test::start_error(std::move(o), echo_handler());
  };
  EXPECT_NE(start_error(unix_options("")).find("empty path"), std::string::npos);
  EXPECT_NE(start_error(unix_options("/tmp/" + std::string(200, 'x'))), "");
  EXPECT_NE(start_error(unix_options("/nonexistent-dir/s.sock")).find("bind"), std::string::npos);
  ServerOptions udp;
  udp.net = "udp";
  udp.addr = "127.0.0.1:0";
  EXPECT_NE(start_error(udp).find("'udp'"), std::string::npos);
}

TEST(UnixSocketTest, AbstractNamespace) {
  const std::string name = fmt::format("@onsen-http-test-{}", ::getpid());
  TestServer srv(echo_handler(), unix_options(name));
  RawClient c(UnixPath{name});
  c.send("GET /abstract HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response().body(), "GET /abstract ");
}

TEST(UnixSocketTest, TlsOverUnixSocket) {
  SocketDir dir;
  test::SelfSigned cert;
  ServerOptions opts = unix_options(dir.socket());
  opts.tls_certificate = cert.cert();
  opts.tls_key = cert.key();
  TestServer srv(echo_handler(), opts);

  net::io_context ioc;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.load_verify_file(cert.cert());
  ctx.set_verify_mode(net::ssl::verify_peer);
  beast::ssl_stream<net::local::stream_protocol::socket> stream(ioc, ctx);
  beast::get_lowest_layer(stream).connect(net::local::stream_protocol::endpoint(dir.socket()));
  timeval tv{5, 0};
  ::setsockopt(beast::get_lowest_layer(stream).native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv,
               sizeof tv);
  stream.handshake(net::ssl::stream_base::client);
  bhttp::request<bhttp::string_body> req{bhttp::verb::put, "/secure", 11};
  req.set(bhttp::field::host, "localhost");
  req.body() = "over tls";
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buf, res);
  EXPECT_EQ(res.body(), "PUT /secure over tls");
  // A plain-text client gets no HTTP answer on the TLS socket.
  RawClient plain(UnixPath{dir.socket()});
  plain.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(plain.read_until_close().find("HTTP/1.1 200"), std::string::npos);
}

}  // namespace
}  // namespace onsen::http
