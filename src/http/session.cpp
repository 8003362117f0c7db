// One HTTP/1.1 connection: a coroutine that reads a request, calls the handler, writes the
// response, and loops while the connection is kept alive. The same code serves plain TCP
// (beast::tcp_stream, with sendfile for file bodies), TLS (beast::ssl_stream<tcp_stream>), and both
// again over unix-domain stream sockets (Session is templated on the protocol and on TLS).
//
// Timeouts: every socket operation gets a deadline through the lowest layer's expires_after
// (idle_timeout while waiting for a request, read_timeout for each read/write step). Waits for
// writability around sendfile use a watchdog timer instead. A timed-out connection is closed.
// Request bodies must also keep a minimum rate (ServerOptions::min_body_rate).
//
// The pieces, one file each: connection_stream.h (the stream and its read-ahead buffer, shared by
// the others), request_body_reader.h (the request body as the handler reads it),
// response_writer.h (the head, then the body by kind; file_sender.h for sendfile), and here the
// connection loop: TLS handshake, one request after another, closing.
#include "http/session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "http/connection_stream.h"
#include "http/handshake_gate.h"
#include "http/plain_http.h"
#include "http/request_body_reader.h"
#include "http/request_executor.h"
#include "http/request_head.h"
#include "http/request_id.h"
#include "http/response_writer.h"
#include "http/tls.h"
#include "http/wire.h"

namespace onsen::http::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using local = net::local::stream_protocol;
using std::chrono::steady_clock;

namespace {

constexpr size_t kFirstReadSize = 8 * 1024;  // read while idle; small: idle connections are many
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr uint64_t kLingerBytes = 16 << 20;
constexpr auto kTlsShutdownTime = std::chrono::seconds(1);

Peer peer_of(const tcp::endpoint& ep) {
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  }
  return Peer{a.to_string(), ep.port()};
}

}  // namespace

namespace {

template <class Protocol, bool Tls>
class Session final : public Connection,
                      public std::enable_shared_from_this<Session<Protocol, Tls>> {
  using Conn = ConnectionStream<Protocol, Tls>;

 public:
  Session(std::shared_ptr<ServerContext> ctx, typename Protocol::socket socket, Peer peer,
          std::shared_ptr<net::ssl::context> tls, std::shared_ptr<SessionLogContext> log)
      : ctx_(std::move(ctx)),
        opts_(ctx_->options),
        tls_(std::move(tls)),
        peer_(std::move(peer)),
        conn_(std::move(socket), tls_.get(), opts_, peer_.to_string()),
        body_(conn_),
        writer_(conn_, ctx_->active_file_sends),
        log_(std::move(log)) {
    ctx_->active.fetch_add(1);
  }

  ~Session() override { ctx_->remove(this); }

  static net::awaitable<void> run(std::shared_ptr<Session> self) { co_await self->main(); }

  void shutdown(bool force) override {
    net::post(conn_.stream.get_executor(),
              [self = this->shared_from_this(), force] { self->on_shutdown(force); });
  }

 private:
  enum class Next { keep_alive, close, abort };

  typename Conn::Plain& lowest() { return conn_.lowest(); }

  void on_shutdown(bool force) {
    if (!force && !idle_) return;
    lowest().close();
    if (waiter_) waiter_->timer.cancel();  // queued for a handshake slot: leave the queue now
  }

  net::awaitable<void> main() {
    if constexpr (Tls) {
      if (!co_await handshake()) co_return;
    }
    for (;;) {
      Next next = co_await serve_one();
      if (next == Next::keep_alive) continue;
      if (next == Next::close) co_await close_gracefully();
      break;
    }
    lowest().close();
  }

  // The TLS handshake. Its first bytes are read here rather than by the TLS stream, so that a
  // plain-HTTP request gets Go's 400 answer (see plain_http.h); the handshake then starts from
  // the bytes read, which costs no extra system call. False: the connection is done.
  net::awaitable<bool> handshake() {
    if (ctx_->stopping) co_return false;  // accepted as stop() began, after it closed idle ones
    idle_ = true;                         // nothing in flight yet: stop() may close it
    lowest().expires_after(opts_.read_timeout);
    auto& buffer = conn_.buffer;
    auto hello = [&] {
      return std::string_view(static_cast<const char*>(buffer.cdata().data()),
                              buffer.cdata().size());
    };
    auto first = FirstBytes::need_more;
    while (first == FirstBytes::need_more) {
      auto [ec, n] = co_await lowest().async_read_some(buffer.prepare(kFirstReadSize), kTuple);
      if (ec) co_return false;
      buffer.commit(n);
      first = classify_first_bytes(hello());
    }
    if (first == FirstBytes::plain_http) {
      idle_ = false;
      spdlog::info("{}: plain HTTP request on the TLS port: 400", conn_.remote);
      auto [ec, n] =
          co_await net::async_write(lowest(), net::buffer(kPlainHttpOnTlsResponse), kTuple);
      (void)n;
      if (!ec) co_await close_plain();
      co_return false;
    }
    // The whole hello first (still within read_timeout), so that no slot waits on the network.
    while (size_t missing = hello_bytes_missing(hello())) {
      auto [ec, n] = co_await lowest().async_read_some(buffer.prepare(missing), kTuple);
      if (ec) co_return false;
      buffer.commit(n);
    }
    // The hello is read. Not for a client that has left; a full handshake signs only within the
    // server's budget of handshakes at once, a resumed one signs nothing (handshake_gate.h).
    auto& stats = ctx_->tls_stats;
    if (peer_has_left(lowest().socket().native_handle())) {
      stats.client_gone.fetch_add(1, std::memory_order_relaxed);
      co_return false;
    }
    stats.handshakes.fetch_add(1, std::memory_order_relaxed);
    SSL* ssl = conn_.stream.native_handle();
    attach_handshake_slot(ssl, &slot_);
    auto [ec, used] = co_await conn_.stream.async_handshake(net::ssl::stream_base::server,
                                                            buffer.cdata(), kTuple);
    // A pause took in all the bytes read (a TLS record's worth at most: OpenSSL's input holds it).
    const bool paused = ec && handshake_needs_slot(ssl);
    buffer.consume(paused ? buffer.size() : used);
    while (ec && handshake_needs_slot(ssl)) {
      if (!co_await admit_full_handshake()) co_return false;
      auto [resumed_ec] =
          co_await conn_.stream.async_handshake(net::ssl::stream_base::server, kTuple);
      ec = resumed_ec;
    }
    attach_handshake_slot(ssl, nullptr);
    slot_.release();
    idle_ = false;
    // The client waits for our reply to its hello, so the first read held handshake bytes only.
    if (ec || buffer.size() > 0) {
      spdlog::debug("{}: TLS handshake failed: {}", conn_.remote,
                    ec ? ec.message() : "bytes beyond the client hello");
      co_return false;
    }
    if (SSL_session_reused(ssl)) stats.resumed.fetch_add(1, std::memory_order_relaxed);
    co_return true;
  }

  // A full handshake, paused before its signature, waits for a slot (handshake_gate.h); a client
  // gone meanwhile is dropped unsigned. False: the connection is done.
  net::awaitable<bool> admit_full_handshake() {
    auto& stats = ctx_->tls_stats;
    waiter_ = std::make_shared<HandshakeGate::Waiter>(conn_.stream.get_executor());
    slot_ = co_await ctx_->handshakes->admit(waiter_, opts_.read_timeout);
    waiter_.reset();
    if (!slot_) {
      if (!ctx_->stopping) stats.gave_up.fetch_add(1, std::memory_order_relaxed);
      co_return false;
    }
    if (ctx_->stopping) co_return false;
    if (peer_has_left(lowest().socket().native_handle())) {
      stats.client_gone.fetch_add(1, std::memory_order_relaxed);
      co_return false;
    }
    lowest().expires_after(opts_.read_timeout);  // the wait for a slot does not eat into it
    co_return true;
  }

  // One request: read its header, call the handler, deal with the body it left, write the
  // response. What next: another request on this connection, a graceful close, or an abort.
  net::awaitable<Next> serve_one() {
    auto& buffer = conn_.buffer;
    // Wait for a request; only this wait is "idle".
    if (buffer.size() == 0) {
      if (ctx_->stopping) co_return Next::abort;
      idle_ = true;
      lowest().expires_after(opts_.idle_timeout);
      auto [ec, n] = co_await conn_.stream.async_read_some(buffer.prepare(kFirstReadSize), kTuple);
      idle_ = false;
      if (ec) co_return Next::abort;
      buffer.commit(n);
    }
    const auto start = steady_clock::now();
    received_ = std::chrono::system_clock::now();

    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(opts_.header_limit, std::numeric_limits<uint32_t>::max())));
    parser_->body_limit(boost::none);
    lowest().expires_after(opts_.read_timeout);
    auto [ec, unused] = co_await bhttp::async_read_header(conn_.stream, buffer, *parser_, kTuple);
    (void)unused;
    if (ec) {
      const bool too_large =
          ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow;
      if (!too_large && !is_parse_error(ec)) co_return Next::abort;  // EOF, reset, timeout
      assign_request_id(log_->request_id, std::nullopt);             // an answer, so an id
      if (too_large) co_return co_await reject(431, "request header too large", start);
      spdlog::debug("{}: malformed request: {}", conn_.remote, ec.message());
      co_return co_await reject(400, "malformed request", start);
    }

    auto& msg = parser_->get();
    // From here on, the request's log lines carry its id (request_executor.h).
    std::optional<std::string_view> incoming_id;
    if (auto it = msg.find("X-Request-Id"); it != msg.end()) incoming_id = it->value();
    assign_request_id(log_->request_id, incoming_id);
    if (auto refused = check_request_head(msg)) {
      co_return co_await reject(refused->status, refused->message, start);
    }
    const unsigned version = msg.version();
    Request req = make_request(msg);
    req.id = log_->request_id;
    req.peer = peer_;
    req.remote = conn_.remote;
    req.body = &body_;
    body_.start(*parser_,
                version == 11 && iequals(trim(msg[bhttp::field::expect]), "100-continue"));
    const bool is_head = msg.method() == bhttp::verb::head;
    bool close = !msg.keep_alive() || ctx_->stopping;

    // The handler.
    Response res;
    std::optional<std::string> failure;
    try {
      res = co_await ctx_->handler(req);
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "unknown exception";
    }
    if (body_.failed()) {
      spdlog::info("{} \"{} {}\" aborted: request body: {}", conn_.remote, req.method, req.target,
                   body_.error().message());
      co_return Next::abort;
    }
    if (failure) {
      spdlog::error("handler failed on {} {}: {}", req.method, req.path, *failure);
      res = transport_error(500, "UNKNOWN", "internal error");
    }
    if (auto c = res.headers.get("Connection"); c && iequals(trim(*c), "close")) close = true;

    // Whatever body the handler left unread.
    if (!body_.complete()) {
      if (body_.client_still_waiting()) {
        close = true;                                  // it sent no body and will send none
      } else if (!close && !co_await body_.drain()) {  // closing anyway: linger instead
        if (body_.failed()) co_return Next::abort;
        close = true;
      }
    }
    if (ctx_->stopping) close = true;
    if (close && !body_.complete()) linger_ = true;

    res.headers.add("X-Request-Id", log_->request_id);
    auto w = co_await writer_.write(res, version, is_head, close);
    if (opts_.access_log) {
      AccessRecord r{.id = log_->request_id,
                     .peer = &peer_,
                     .user = req.user,
                     .method = req.method,
                     .target = req.target,
                     .version = version,
                     .referer = msg[bhttp::field::referer],
                     .user_agent = msg[bhttp::field::user_agent],
                     .status = res.status,
                     .bytes = w.bytes,
                     .received = received_,
                     .duration = steady_clock::now() - start,
                     .complete = w.ok};
      log_access(r);
    }
    observe(req.method, req.route_class, res.status, body_.bytes_read(), w.bytes, start);
    log_->request_id.clear();
    if (!w.ok) co_return Next::abort;
    co_return close ? Next::close : Next::keep_alive;
  }

  // Answers a request we could not parse or accept (its id assigned), then closes.
  net::awaitable<Next> reject(unsigned status, std::string_view message,
                              steady_clock::time_point start) {
    linger_ = true;
    Response res = transport_error(status, "UNSUPPORTED", message);
    res.headers.add("X-Request-Id", log_->request_id);
    auto w = co_await writer_.write(res, 11, false, true);
    if (opts_.access_log) {
      log_access(AccessRecord{.id = log_->request_id,
                              .peer = &peer_,
                              .status = status,
                              .bytes = w.bytes,
                              .received = received_,
                              .duration = steady_clock::now() - start,
                              .complete = w.ok});
    }
    observe("-", 0, status, 0, w.bytes, start);
    log_->request_id.clear();
    co_return w.ok ? Next::close : Next::abort;
  }

  void log_access(const AccessRecord& r) {
    if (opts_.access_log_writer) {
      opts_.access_log_writer(r);
    } else {
      write_combined_log_line(r);
    }
  }

  // Tells the server's RequestObserver (metrics) of a request answered.
  void observe(std::string_view method, unsigned route_class, unsigned status,
               uint64_t request_bytes, uint64_t response_bytes, steady_clock::time_point start) {
    if (!opts_.observer) return;
    opts_.observer->observe(RequestRecord{method, route_class, status, request_bytes,
                                          response_bytes, steady_clock::now() - start});
  }

  net::awaitable<void> close_gracefully() {
    if constexpr (Tls) {
      lowest().expires_after(kTlsShutdownTime);
      auto [ec] = co_await conn_.stream.async_shutdown(kTuple);
      (void)ec;
      lowest().close();
    } else {
      co_await close_plain();
    }
  }

  // Half-close, then read and discard what the client may still be sending, so that our close
  // does not reset the connection before the client has read the response.
  net::awaitable<void> close_plain() {
    auto& low = lowest();
    beast::error_code ec;
    low.socket().shutdown(net::socket_base::shutdown_send, ec);
    if (!ec && !linger_) linger_ = conn_.buffer.size() > 0 || low.socket().available(ec) > 0;
    if (!ec && linger_) {
      low.expires_after(kLingerTime);
      uint64_t total = 0;
      while (total < kLingerBytes) {
        auto [rec, n] =
            co_await low.async_read_some(net::buffer(conn_.io_buffer(), kIoBufferSize), kTuple);
        if (rec) break;
        total += n;
      }
    }
    low.close();
  }

  std::shared_ptr<ServerContext> ctx_;
  const ServerOptions& opts_;
  std::shared_ptr<net::ssl::context> tls_;  // TLS only: this session's context, kept alive
  Peer peer_;
  Conn conn_;
  std::optional<RequestParser> parser_;  // of the current request
  RequestBodyReader<Conn> body_;         // of the current request
  ResponseWriter<Conn> writer_;
  bool idle_ = false;  // waiting for a request (or a ClientHello): stop() may close it
  std::shared_ptr<HandshakeGate::Waiter> waiter_;  // while queued for a handshake slot
  HandshakeGate::Slot slot_;  // while a full handshake signs (attached to the SSL object)
  bool linger_ = false;       // the client may still be sending: read before closing
  std::shared_ptr<SessionLogContext> log_;          // the current request's id (request_executor.h)
  std::chrono::system_clock::time_point received_;  // when the current request's head came
};

template <class Protocol, bool Tls>
void spawn(std::shared_ptr<ServerContext> ctx, typename Protocol::socket socket, Peer peer,
           std::shared_ptr<net::ssl::context> tls) {
  using S = Session<Protocol, Tls>;
  // The coroutine runs on the socket's strand through a RequestExecutor, which gives each of its
  // resumptions the session's current request id (request_executor.h).
  const auto* strand = socket.get_executor().template target<SessionStrand>();
  if (strand == nullptr) throw std::logic_error("session socket without a strand");
  auto log = std::make_shared<SessionLogContext>(*strand);
  RequestExecutor exec(strand->get_inner_executor(), log);
  auto session = std::make_shared<S>(ctx, std::move(socket), peer, std::move(tls), std::move(log));
  ctx->add(session);
  net::co_spawn(exec, S::run(std::move(session)),
                [remote = peer.to_string()](std::exception_ptr e) {
                  if (!e) return;
                  try {
                    std::rethrow_exception(e);
                  } catch (const std::exception& ex) {
                    spdlog::error("{}: connection failed: {}", remote, ex.what());
                  }
                });
}

template <class Protocol>
void start(std::shared_ptr<ServerContext> ctx, typename Protocol::socket socket, Peer peer) {
  if (ctx->tls) {
    auto tls = ctx->tls_context();
    spawn<Protocol, true>(std::move(ctx), std::move(socket), std::move(peer), std::move(tls));
  } else {
    spawn<Protocol, false>(std::move(ctx), std::move(socket), std::move(peer), nullptr);
  }
}

}  // namespace

void start_session(std::shared_ptr<ServerContext> ctx, tcp::socket socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return;  // already gone; the socket closes here
  socket.set_option(tcp::no_delay(true), ec);
  start<tcp>(std::move(ctx), std::move(socket), peer_of(ep));
}

void start_session(std::shared_ptr<ServerContext> ctx, local::socket socket) {
  start<local>(std::move(ctx), std::move(socket), Peer{});
}

}  // namespace onsen::http::detail
