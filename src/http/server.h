// The HTTP/1.1 server: listener, optional TLS, one session coroutine per connection, timeouts,
// limits and graceful shutdown. It knows nothing of registries: it turns bytes into http::Request,
// calls the Handler, and writes the http::Response (see message.h).
//
// Behaviour the handler can rely on:
//  - Request.body is never null; reading it is optional. The first read_some answers
//    "Expect: 100-continue" with "100 Continue". read_some throws boost::system::system_error on a
//    broken, truncated or timed-out body; the transport then closes the connection without
//    writing the handler's response. read_some must be called from the handler's own coroutine.
//  - An unread body is drained after the handler returns (up to 1 MiB), else the connection is
//    closed after the response. If the client sent "Expect: 100-continue" and the handler never
//    read the body, no 100 is sent and the connection is closed after the response.
//  - Content-Length is computed from the body. For HEAD no body is sent and Content-Length is
//    Response.head_length, else the body's length. 204, 304 and 1xx get neither. The transport
//    also owns Transfer-Encoding and Connection (handler values dropped; a handler's
//    "Connection: close" does close the connection after the response) and adds Date if absent.
//  - An exception from the handler becomes 500 {"errors":[{"code":"UNKNOWN",...}]} and is logged.
//  - Options.extra_headers are added to every response unless the handler set the same name.
//  - Every response carries X-Request-Id: Request.id (http/request_id.h); the log lines written
//    while the request is served carry it too (base/request_context.h).
//
// Thread safety: start() then run() from one thread; stop() and port() may be called from any
// thread once start() has returned. The Handler is called concurrently from the pool's threads.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "http/access_log.h"
#include "http/message.h"

namespace onsen::http {

// What the server tells of each request it answered (metrics).
struct RequestRecord {
  std::string_view method;   // "-" for a request refused before its header was parsed
  unsigned route_class = 0;  // Request::route_class as the handler left it
  unsigned status = 0;
  uint64_t request_bytes = 0;                      // body bytes read (by the handler or drained)
  uint64_t response_bytes = 0;                     // body bytes written
  std::chrono::steady_clock::duration duration{};  // header read to response written
};

// Told of every request after its response was written (or failed to be), on the I/O thread that
// served it: it must be cheap and must not block. Several threads call it at once.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void observe(const RequestRecord& record) noexcept = 0;
};

struct ServerOptions {
  // net "tcp": "host:port"; the wildcards ":5000", "0.0.0.0:5000" and "[::]:5000" all listen on
  // every IPv4 and IPv6 address (one dual-stack socket, as registry:2 does; IPv4 only on a machine
  // without IPv6); "127.0.0.1:5000", "[::1]:5000" or a host name listen on that one address;
  // port 0 picks an ephemeral port (see Server::port()).
  // net "unix": the socket's path ("@name": Linux abstract namespace, no file). A socket file
  // nobody listens on (left by a crash) is replaced; a live socket or a file of another kind is an
  // error. The socket is made mode 0660 and removed at stop() (unless replaced meanwhile).
  std::string addr = ":5000";
  std::string net = "tcp";  // "tcp" | "unix" (TLS works over both); "" = "tcp"
  size_t threads = std::max(1u, std::thread::hardware_concurrency());
  size_t header_limit = 64 * 1024;         // request line + headers, bytes; beyond => 431
  std::chrono::seconds idle_timeout{120};  // keep-alive connection waiting for a request
  std::chrono::seconds read_timeout{60};   // per read/write progress, not total
  std::chrono::seconds drain_timeout{10};  // stop(): in-flight requests get this long
  std::string tls_certificate, tls_key;    // PEM paths (cert may be a chain); empty = no TLS
  // A second pair of another key type (ECDSA beside RSA, or the reverse): OpenSSL presents the
  // one the client supports, ECDSA when it supports both. Empty = none.
  std::string tls_second_certificate, tls_second_key;
  std::string tls_min_version = "tls1.2";   // tls1.0 | tls1.1 | tls1.2 | tls1.3
  std::vector<std::string> tls_client_cas;  // PEM CA files; non-empty => client certs required
  // Allowed cipher suites in preference order, by the names Distribution's http.tls.ciphersuites
  // accepts (Go's: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256...). Empty =
  // OpenSSL's defaults. TLS 1.0-1.2 names restrict TLS <= 1.2, TLS 1.3 names restrict TLS 1.3;
  // with no TLS 1.3 name, TLS 1.3 keeps its defaults (Go does not let them be configured either);
  // with only TLS 1.3 names, TLS 1.2 and below are refused (they could negotiate nothing). An
  // unknown name makes start() throw, naming it (even without TLS); a known suite this OpenSSL
  // lacks (the 3DES ones on Debian 12) is skipped with a warning.
  std::vector<std::string> tls_cipher_suites;
  // Session ticket keys (http/ticket_keys.h): a file of 80-byte keys (raw or base64; the first
  // encrypts, all decrypt), shared by replicas and re-read with the certificate files; empty =
  // random keys in memory, a new one every 12 h (the previous one accepted 12 h more).
  std::string tls_ticket_keys;
  // Certificate rotation: this often, the certificate, key, second pair, client CA and ticket key
  // files are stat()ed (device, inode, size, mtime, ctime). When any changed, a new TLS context is
  // built from them and used for the connections accepted from then on; established connections
  // keep theirs. If the files do not load (e.g. half-written), the current context stays, a
  // warning is logged (once per state of the files) and the load is retried at every check.
  // 0 = never re-read.
  std::chrono::milliseconds tls_reload_interval{2000};
  // Full handshakes that may be at their expensive step (the private-key signature) at once,
  // server-wide; the others wait, newest first, at most read_timeout each, and are dropped
  // unsigned when their client has left meanwhile (resumed ones sign nothing and do not wait).
  // 0 = one per I/O thread.
  size_t tls_handshakes = 0;
  // Beyond: accepted then closed at once. start() raises the soft RLIMIT_NOFILE to the hard limit
  // and lowers this to half of it if needed (the other half is for files requests open).
  size_t max_connections = 20000;
  // Minimum request body rate, bytes per second; 0 = none. A body must bring
  // min_body_rate × read_timeout bytes within each read_timeout spent waiting for it, else the
  // connection is closed as if the read had timed out: read_timeout alone lets a body that sends a
  // byte just before each deadline hold its connection forever.
  uint64_t min_body_rate = 1024;
  std::vector<std::pair<std::string, std::string>> extra_headers;  // added to every response
  // One access log line per request (http/access_log.h); false: none (Distribution's
  // log.accesslog.disabled).
  bool access_log = true;
  // Told of every request (metrics); null = none. Must outlive the server.
  RequestObserver* observer = nullptr;
  // Writes it; empty: the combined log format on stdout (write_combined_log_line).
  std::function<void(const AccessRecord&)> access_log_writer;
};

// What the TLS layer did since start() (see the line logged at stop).
struct TlsCounters {
  uint64_t handshakes = 0;   // ClientHellos handed to OpenSSL
  uint64_t signatures = 0;   // full handshakes' private-key signatures
  uint64_t resumed = 0;      // handshakes completed by session resumption
  uint64_t client_gone = 0;  // dropped unsigned: the client had closed the connection
  uint64_t gave_up = 0;      // dropped unsigned: waited read_timeout for a handshake slot
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads TLS material, binds and listens. Throws std::runtime_error with a clear message on
  // failure (bad address, port in use, unreadable certificate...). Ignores SIGPIPE process-wide
  // (sendfile(2) cannot be told not to raise it).
  void start();
  // The bound port (useful with port 0); 0 for a unix socket. Valid after start().
  unsigned short port() const;
  // Runs the I/O loop on `threads` threads (the caller's included) until stopped and drained.
  void run();
  // Graceful stop, callable from any thread or signal-driven: stops accepting, closes idle
  // keep-alive connections, lets in-flight requests finish (their responses carry
  // "Connection: close"), force-closes what is left after drain_timeout. run() then returns.
  void stop();
  // Makes SIGINT and SIGTERM call stop(); a second signal forces an immediate exit from run().
  // Call before run() (before start() too, if you like: a signal that comes before run() takes
  // effect once run() starts). Installs the handlers at once; a caller that keeps the signals
  // blocked until then (see cli/serve.cpp) loses none of them.
  void stop_on_signals();
  // Thread-safe.
  TlsCounters tls_counters() const;
  // Connections open now (accepted, not yet closed). Thread-safe.
  size_t open_connections() const;
  // True once a stop (stop() or a signal) has begun: draining, or done. Thread-safe.
  bool stopping() const;
  // Runs `fn` on one of the I/O threads, once one is free (a liveness probe: `fn` runs only while
  // the loop turns). Thread-safe; after run() has returned, `fn` never runs.
  void post(std::function<void()> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace onsen::http
