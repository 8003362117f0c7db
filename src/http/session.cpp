// One HTTP/1.1 connection: a coroutine that reads a request, calls the handler, writes the
// response, and loops while the connection is kept alive. The same code serves plain TCP
// (beast::tcp_stream, with sendfile for file bodies), TLS (beast::ssl_stream<tcp_stream>), and both
// again over unix-domain stream sockets (Session is templated on the protocol and on TLS).
//
// Timeouts: every socket operation gets a deadline through the lowest layer's expires_after
// (idle_timeout while waiting for a request, read_timeout for each read/write step). Waits for
// writability around sendfile use a watchdog timer instead. A timed-out connection is closed.
// Request bodies must also keep a minimum rate (ServerOptions::min_body_rate, see read_body).
#include "http/session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/plain_http.h"
#include "http/request_head.h"
#include "http/tls_records.h"
#include "http/wire.h"

namespace onsen::http::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using local = net::local::stream_protocol;
using std::chrono::steady_clock;

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

constexpr size_t kFirstReadSize = 8 * 1024;   // read while idle; small: idle connections are many
constexpr size_t kIoBufferSize = 256 * 1024;  // drain, TLS file bodies, stream bodies
constexpr uint64_t kDrainLimit = 1 << 20;     // unread request body drained after the handler
constexpr size_t kSendfileChunk = 4 << 20;    // per sendfile(2) call
constexpr uint64_t kYieldEvery = 16 << 20;    // sendfile bytes before letting others run
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr uint64_t kLingerBytes = 16 << 20;
constexpr auto kTlsShutdownTime = std::chrono::seconds(1);
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Only for messages built from constants of this file (no JSON escaping).
Response error_response(unsigned status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  r.headers.add("Content-Type", "application/json; charset=utf-8");
  r.body = fmt::format(R"({{"errors":[{{"code":"{}","message":"{}"}}]}})", code, message);
  return r;
}

Peer peer_of(const tcp::endpoint& ep) {
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  }
  return Peer{a.to_string(), ep.port()};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Session

namespace {

template <class Protocol, bool Tls>
class Session final : public Connection,
                      public std::enable_shared_from_this<Session<Protocol, Tls>> {
  static constexpr bool kTls = Tls;
  using Socket = typename Protocol::socket;
  using Plain = beast::basic_stream<Protocol, net::any_io_executor, beast::unlimited_rate_policy>;
  using Stream = std::conditional_t<Tls, beast::ssl_stream<Plain>, Plain>;

 public:
  Session(std::shared_ptr<ServerContext> ctx, Socket socket, Peer peer,
          std::shared_ptr<net::ssl::context> tls)
      : ctx_(std::move(ctx)),
        opts_(ctx_->options),
        tls_(std::move(tls)),
        stream_(make_stream(tls_.get(), std::move(socket))),
        peer_(std::move(peer)),
        remote_(peer_.to_string()),
        watchdog_(stream_.get_executor()),
        body_(*this) {
    ctx_->active.fetch_add(1);
  }

  ~Session() override { ctx_->remove(this); }

  static net::awaitable<void> run(std::shared_ptr<Session> self) { co_await self->main(); }

  void shutdown(bool force) override {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), force] { self->on_shutdown(force); });
  }

 private:
  enum class Next { keep_alive, close, abort };
  struct WriteResult {
    bool ok = false;
    uint64_t bytes = 0;
  };

  class Body final : public BodyReader {
   public:
    explicit Body(Session& s) : s_(s) {}
    net::awaitable<size_t> read_some(char* buf, size_t n) override { return s_.read_body(buf, n); }
    std::optional<uint64_t> content_length() const override { return s_.declared_length_; }

   private:
    Session& s_;
  };

  static Stream make_stream(net::ssl::context* tls, Socket&& socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  Plain& lowest() { return beast::get_lowest_layer(stream_); }

  void on_shutdown(bool force) {
    if (force || idle_) lowest().close();
  }

  char* io_buffer() {
    if (!io_buf_) io_buf_ = std::make_unique<char[]>(kIoBufferSize);
    return io_buf_.get();
  }

  // ---- connection loop ----------------------------------------------------------------------

  net::awaitable<void> main() {
    if constexpr (kTls) {
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
    auto first = FirstBytes::need_more;
    while (first == FirstBytes::need_more) {
      auto [ec, n] = co_await lowest().async_read_some(buffer_.prepare(kFirstReadSize), kTuple);
      if (ec) co_return false;
      buffer_.commit(n);
      first = classify_first_bytes(
          {static_cast<const char*>(buffer_.cdata().data()), buffer_.cdata().size()});
    }
    if (first == FirstBytes::plain_http) {
      idle_ = false;
      spdlog::info("{}: plain HTTP request on the TLS port: 400", remote_);
      auto [ec, n] =
          co_await net::async_write(lowest(), net::buffer(kPlainHttpOnTlsResponse), kTuple);
      (void)n;
      if (!ec) co_await close_plain();
      co_return false;
    }
    auto [ec, used] =
        co_await stream_.async_handshake(net::ssl::stream_base::server, buffer_.cdata(), kTuple);
    idle_ = false;
    // The client waits for our reply to its hello, so the first read held handshake bytes only.
    buffer_.consume(used);
    if (ec || buffer_.size() > 0) {
      spdlog::debug("{}: TLS handshake failed: {}", remote_,
                    ec ? ec.message() : "bytes beyond the client hello");
      co_return false;
    }
    co_return true;
  }

  net::awaitable<Next> serve_one() {
    // Wait for a request; only this wait is "idle".
    if (buffer_.size() == 0) {
      if (ctx_->stopping) co_return Next::abort;
      idle_ = true;
      lowest().expires_after(opts_.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kFirstReadSize), kTuple);
      idle_ = false;
      if (ec) co_return Next::abort;
      buffer_.commit(n);
    }
    const auto start = steady_clock::now();

    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(opts_.header_limit, std::numeric_limits<uint32_t>::max())));
    parser_->body_limit(boost::none);
    lowest().expires_after(opts_.read_timeout);
    auto [ec, unused] = co_await bhttp::async_read_header(stream_, buffer_, *parser_, kTuple);
    (void)unused;
    if (ec) {
      if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
        co_return co_await reject(431, "request header too large", start);
      }
      if (is_parse_error(ec)) {
        spdlog::debug("{}: malformed request: {}", remote_, ec.message());
        co_return co_await reject(400, "malformed request", start);
      }
      co_return Next::abort;  // EOF, reset, timeout
    }

    auto& msg = parser_->get();
    if (auto refused = check_request_head(msg)) {
      co_return co_await reject(refused->status, refused->message, start);
    }
    const unsigned version = msg.version();
    Request req = make_request(msg);
    req.peer = peer_;
    req.remote = remote_;
    req.body = &body_;

    chunked_ = parser_->chunked();
    if (chunked_) {
      declared_length_.reset();
      remaining_ = 0;
    } else {
      auto cl = parser_->content_length();
      remaining_ = cl ? *cl : 0;
      declared_length_ = remaining_;
    }
    body_failed_ = false;
    window_waited_ = {};
    window_bytes_ = 0;
    continue_handled_ = false;
    continue_sent_ = false;
    expect_continue_ = version == 11 && !body_complete() &&
                       iequals(trim(msg[bhttp::field::expect]), "100-continue");
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
    if (body_failed_) {
      spdlog::info("{} \"{} {}\" aborted: request body: {}", remote_, req.method, req.target,
                   body_error_.message());
      co_return Next::abort;
    }
    if (failure) {
      spdlog::error("handler failed on {} {}: {}", req.method, req.path, *failure);
      res = error_response(500, "UNKNOWN", "internal error");
    }
    if (auto c = res.headers.get("Connection"); c && iequals(trim(*c), "close")) close = true;

    // Whatever body the handler left unread.
    if (!body_complete()) {
      if (expect_continue_ && !continue_sent_) {
        close = true;  // the client is still waiting for our go-ahead: it sent no body
      } else if (!close && !co_await drain()) {  // closing anyway: linger instead
        if (body_failed_) co_return Next::abort;
        close = true;
      }
    }
    if (ctx_->stopping) close = true;
    if (close && !body_complete()) linger_ = true;

    auto w = co_await write_response(res, version, is_head, close);
    log_access(req.method, req.target, res.status, w.bytes, start, w.ok);
    if (!w.ok) co_return Next::abort;
    co_return close ? Next::close : Next::keep_alive;
  }

  // Answers a request we could not parse or accept, then closes.
  net::awaitable<Next> reject(unsigned status, std::string_view message,
                              steady_clock::time_point start) {
    linger_ = true;
    Response res = error_response(status, "UNSUPPORTED", message);
    auto w = co_await write_response(res, 11, false, true);
    log_access("-", "-", status, w.bytes, start, w.ok);
    co_return w.ok ? Next::close : Next::abort;
  }

  void log_access(std::string_view method, std::string_view target, unsigned status, uint64_t bytes,
                  steady_clock::time_point start, bool ok) {
    if (!opts_.access_log) return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - start);
    spdlog::info("{} \"{} {}\" {} {} {}ms{}", remote_, method, target, status, bytes, ms.count(),
                 ok ? "" : " (write failed)");
  }

  net::awaitable<void> close_gracefully() {
    if constexpr (kTls) {
      lowest().expires_after(kTlsShutdownTime);
      auto [ec] = co_await stream_.async_shutdown(kTuple);
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
    if (!ec && !linger_) linger_ = buffer_.size() > 0 || low.socket().available(ec) > 0;
    if (!ec && linger_) {
      low.expires_after(kLingerTime);
      uint64_t total = 0;
      while (total < kLingerBytes) {
        auto [rec, n] =
            co_await low.async_read_some(net::buffer(io_buffer(), kIoBufferSize), kTuple);
        if (rec) break;
        total += n;
      }
    }
    low.close();
  }

  // ---- request body -------------------------------------------------------------------------

  bool body_complete() const { return chunked_ ? parser_->is_done() : remaining_ == 0; }

  [[noreturn]] void fail_body(beast::error_code ec) {
    body_failed_ = true;
    body_error_ = ec;
    throw boost::system::system_error(ec, "request body");
  }

  net::awaitable<size_t> read_body(char* buf, size_t n) {
    if (body_failed_) fail_body(body_error_);
    if (n == 0 || body_complete()) co_return 0;
    if (!continue_handled_) {
      continue_handled_ = true;
      if (expect_continue_) {
        if (auto ec = co_await write_all(net::buffer(kContinue.data(), kContinue.size()))) {
          fail_body(ec);
        }
        continue_sent_ = true;
      }
    }
    if (!chunked_) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
      if (buffer_.size() > 0) {  // bytes read along with the header
        size_t k = net::buffer_copy(net::buffer(buf, want), buffer_.data());
        buffer_.consume(k);
        remaining_ -= k;
        co_return k;
      }
      const auto started = steady_clock::now();
      lowest().expires_after(body_read_timeout());
      auto [ec, k] = co_await stream_.async_read_some(net::buffer(buf, want), kTuple);
      count_body_progress(steady_clock::now() - started, k);
      if (ec) fail_body(ec == net::error::eof ? bhttp::error::partial_message : ec);
      remaining_ -= k;
      co_return k;
    }
    for (;;) {
      auto& b = parser_->get().body();
      b.data = buf;
      b.size = n;
      b.more = true;
      const auto started = steady_clock::now();
      lowest().expires_after(body_read_timeout());
      auto [ec, unused] = co_await bhttp::async_read_some(stream_, buffer_, *parser_, kTuple);
      (void)unused;
      size_t got = n - parser_->get().body().size;
      parser_->get().body().data = nullptr;
      count_body_progress(steady_clock::now() - started, got);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) fail_body(ec);
      if (got > 0 || parser_->is_done()) co_return got;
    }
  }

  // Minimum body rate: a body must bring min_body_rate × read_timeout bytes (its quota) within
  // each read_timeout of time spent waiting for it; once it has, a new window starts. Only time
  // inside body reads counts, not the handler's own work between them (writing to disk). The
  // per-read timeout alone never ends a body that sends a byte just before each deadline.
  uint64_t body_quota() const {
    const auto seconds = static_cast<uint64_t>(opts_.read_timeout.count());
    if (opts_.min_body_rate == 0 || seconds == 0) return 0;
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    return opts_.min_body_rate > kMax / seconds ? kMax : opts_.min_body_rate * seconds;
  }

  // The deadline of the next body read: read_timeout, or the end of the window when it comes
  // first.
  steady_clock::duration body_read_timeout() const {
    steady_clock::duration limit = opts_.read_timeout;
    if (body_quota() == 0) return limit;
    return std::max<steady_clock::duration>(limit - window_waited_, std::chrono::milliseconds(1));
  }

  void count_body_progress(steady_clock::duration waited, size_t got) {
    const uint64_t quota = body_quota();
    if (quota == 0) return;
    window_waited_ += waited;
    window_bytes_ += got;
    if (window_bytes_ >= quota) {
      window_waited_ = {};
      window_bytes_ = 0;
    } else if (window_waited_ >= opts_.read_timeout) {
      spdlog::info("{}: request body slower than {} bytes/s ({} bytes in {} s): closing", remote_,
                   opts_.min_body_rate, window_bytes_, opts_.read_timeout.count());
      fail_body(beast::error::timeout);
    }
  }

  // Reads and discards what the handler left of the body, up to kDrainLimit. False when the
  // body is larger or broken: the connection must then be closed.
  net::awaitable<bool> drain() {
    continue_handled_ = true;
    if (!chunked_ && remaining_ > kDrainLimit) co_return false;
    uint64_t total = 0;
    try {
      while (!body_complete()) {
        if (total > kDrainLimit) co_return false;
        size_t n = co_await read_body(io_buffer(), kIoBufferSize);
        if (n == 0) break;
        total += n;
      }
    } catch (const std::exception&) {
      co_return false;
    }
    co_return true;
  }

  // ---- response -----------------------------------------------------------------------------

  template <class Buffers>
  net::awaitable<beast::error_code> write_all(const Buffers& buffers) {
    beast::buffers_suffix<Buffers> rest(buffers);
    while (beast::buffer_bytes(rest) > 0) {
      lowest().expires_after(opts_.read_timeout);
      auto [ec, n] = co_await stream_.async_write_some(rest, kTuple);
      if (ec) co_return ec;
      rest.consume(n);
    }
    co_return beast::error_code{};
  }

  void build_head(const Response& res, unsigned version, bool is_head, bool close,
                  uint64_t body_len) {
    HeadOptions h;
    h.status = res.status;
    h.version = version;
    h.close = close;
    h.keep_alive_10 = version == 10 && !close;
    if (!status_has_no_body(res.status)) {
      h.content_length = is_head ? res.head_length.value_or(body_len) : body_len;
    }
    head_.clear();
    if (size_t dropped = append_response_head(head_, h, res.headers, opts_.extra_headers)) {
      spdlog::warn("dropped {} invalid response header(s) for status {}", dropped, res.status);
    }
  }

  static uint64_t body_length(const Response& res) {
    if (auto* s = std::get_if<std::string>(&res.body)) return s->size();
    if (auto* f = std::get_if<FileBody>(&res.body)) return f->length;
    return std::get<StreamBody>(res.body).length;
  }

  net::awaitable<WriteResult> write_response(Response& res, unsigned version, bool is_head,
                                             bool close) {
    uint64_t len = body_length(res);
    const bool send_body = !is_head && !status_has_no_body(res.status) && len > 0;
    if (send_body) {
      bool bad = false;
      if (auto* f = std::get_if<FileBody>(&res.body)) bad = f->fd < 0;
      if (auto* s = std::get_if<StreamBody>(&res.body)) bad = !s->read;
      if (bad) {
        spdlog::error("handler returned a {} body without a source", res.status);
        res = error_response(500, "UNKNOWN", "internal error");
        len = body_length(res);
      }
    }
    build_head(res, version, is_head, close, len);
    if (!send_body) {
      auto ec = co_await write_all(net::buffer(head_));
      co_return WriteResult{!ec, 0};
    }
    if (auto* s = std::get_if<std::string>(&res.body)) {
      std::array<net::const_buffer, 2> bufs{net::buffer(head_), net::buffer(*s)};
      auto ec = co_await write_all(bufs);
      co_return WriteResult{!ec, ec ? 0 : s->size()};
    }
    if (auto* f = std::get_if<FileBody>(&res.body)) {
      if constexpr (!kTls) {
        co_return co_await send_file(*f);
      } else {
        // The pull function captures only plain values (res keeps the file open): g++ 12 can
        // destroy a by-value argument of a coroutine call twice, and a captured FileBody copy
        // then released its owner's shared_ptr once too often (heap use-after-free under ASan,
        // heap corruption in Release, with parallel TLS blob GETs).
        const int fd = f->fd;
        const uint64_t offset = f->offset;
        co_return co_await write_pulled(
            res, version, f->length, [fd, offset](char* buf, size_t n, uint64_t done) -> size_t {
              for (;;) {
                ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(offset + done));
                if (r >= 0) return static_cast<size_t>(r);
                if (errno != EINTR) {
                  throw std::runtime_error(std::string("pread: ") + std::strerror(errno));
                }
              }
            });
      }
    }
    auto& sb = std::get<StreamBody>(res.body);
    co_return co_await write_pulled(
        res, version, sb.length,
        [&sb](char* buf, size_t n, uint64_t) -> net::awaitable<size_t> { return sb.read(buf, n); });
  }

  // Writes a body pulled chunk by chunk into the I/O buffer. The first chunk is pulled before
  // anything is written, so that a failing source still gets a proper 500. pull returns size_t
  // (a local file's pread, which the page cache answers) or an awaitable of it (StreamBody).
  template <class Pull>
  net::awaitable<WriteResult> write_pulled(Response& res, unsigned version, uint64_t length,
                                           Pull pull) {
    char* buf = io_buffer();
    uint64_t done = 0;
    bool head_sent = false;
    while (done < length) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(length - done, kIoBufferSize));
      size_t n = 0;
      std::string error;
      try {
        if constexpr (std::is_same_v<decltype(pull(buf, want, done)), size_t>) {
          n = pull(buf, want, done);
        } else {
          n = co_await pull(buf, want, done);
        }
        if (n == 0 || n > want) error = "body source ended early";
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!error.empty()) {
        spdlog::error("response body failed after {} of {} bytes: {}", done, length, error);
        if (head_sent) co_return WriteResult{false, done};
        res = error_response(500, "UNKNOWN", "internal error");
        build_head(res, version, false, true, body_length(res));
        const auto& s = std::get<std::string>(res.body);
        std::array<net::const_buffer, 2> bufs{net::buffer(head_), net::buffer(s)};
        auto ec = co_await write_all(bufs);
        (void)ec;
        co_return WriteResult{false, 0};  // closes the connection either way
      }
      beast::error_code ec;
      if constexpr (kTls) {
        ec = co_await write_sealed(head_sent ? std::string_view() : std::string_view(head_),
                                   std::string_view(buf, n));
        head_sent = true;
      } else if (!head_sent) {
        std::array<net::const_buffer, 2> bufs{net::buffer(head_), net::buffer(buf, n)};
        ec = co_await write_all(bufs);
        head_sent = true;
      } else {
        ec = co_await write_all(net::buffer(buf, n));
      }
      if (ec) co_return WriteResult{false, done};
      done += n;
    }
    if constexpr (kTls) std::string().swap(sealed_);
    co_return WriteResult{true, done};
  }

  // TLS: encrypts head + body into one batch of records and writes it to the socket under the
  // TLS layer in one go (see tls_records.h); through the TLS stream when that is not possible.
  net::awaitable<beast::error_code> write_sealed(std::string_view head, std::string_view body) {
    SSL* ssl = stream_.native_handle();
    if (!can_seal(ssl)) {
      std::array<net::const_buffer, 2> bufs{net::buffer(head), net::buffer(body)};
      co_return co_await write_all(bufs);
    }
    sealed_.clear();
    const std::array<std::string_view, 2> pieces{head, body};
    if (!seal_records(ssl, pieces, sealed_)) {
      co_return beast::error_code(static_cast<int>(boost::system::errc::protocol_error),
                                  boost::system::generic_category());
    }
    net::const_buffer rest = net::buffer(sealed_);
    while (rest.size() > 0) {
      lowest().expires_after(opts_.read_timeout);
      auto [ec, n] = co_await lowest().async_write_some(rest, kTuple);
      if (ec) co_return ec;
      rest += n;
    }
    co_return beast::error_code{};
  }

  // Plain TCP: the head (sent with MSG_MORE so it leaves with the first file bytes), then
  // sendfile(2) from an explicit offset on the non-blocking socket.
  net::awaitable<WriteResult> send_file(const FileBody& f) {
    auto& sock = lowest().socket();
    beast::error_code ec;
    if (!sock.native_non_blocking()) sock.native_non_blocking(true, ec);
    if (ec) co_return WriteResult{false, 0};
    const int out = sock.native_handle();

    size_t head_done = 0;
    while (head_done < head_.size()) {
      ssize_t n =
          ::send(out, head_.data() + head_done, head_.size() - head_done, MSG_MORE | MSG_NOSIGNAL);
      if (n >= 0) {
        head_done += static_cast<size_t>(n);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ec = co_await write_all(net::buffer(head_.data() + head_done, head_.size() - head_done));
        if (ec) co_return WriteResult{false, 0};
        break;
      }
      co_return WriteResult{false, 0};
    }

    off_t offset = static_cast<off_t>(f.offset);
    uint64_t left = f.length;
    uint64_t since_yield = 0;
    while (left > 0) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, kSendfileChunk));
      ssize_t n = ::sendfile(out, f.fd, &offset, chunk);
      if (n > 0) {
        left -= static_cast<uint64_t>(n);
        since_yield += static_cast<uint64_t>(n);
        if (since_yield >= kYieldEvery && left > 0) {
          since_yield = 0;
          co_await net::post(stream_.get_executor(), net::use_awaitable);
        }
        continue;
      }
      if (n == 0) {
        spdlog::error("sendfile: file ended {} bytes before the announced length", left);
        co_return WriteResult{false, f.length - left};
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        since_yield = 0;
        if (co_await wait_writable()) co_return WriteResult{false, f.length - left};
        continue;
      }
      if ((errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) && left == f.length) {
        // A descriptor sendfile cannot read from: copy through user space instead.
        co_return co_await pread_rest(f);
      }
      spdlog::debug("{}: sendfile: {}", remote_, std::strerror(errno));
      co_return WriteResult{false, f.length - left};
    }
    co_return WriteResult{true, f.length};
  }

  // The whole file body, head already sent, through pread and ordinary writes.
  net::awaitable<WriteResult> pread_rest(const FileBody& f) {
    char* buf = io_buffer();
    uint64_t done = 0;
    while (done < f.length) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(f.length - done, kIoBufferSize));
      ssize_t n = ::pread(f.fd, buf, want, static_cast<off_t>(f.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        spdlog::error("pread: {}", n == 0 ? "file shorter than announced" : std::strerror(errno));
        co_return WriteResult{false, done};
      }
      if (co_await write_all(net::buffer(buf, static_cast<size_t>(n)))) {
        co_return WriteResult{false, done};
      }
      done += static_cast<uint64_t>(n);
    }
    co_return WriteResult{true, done};
  }

  // Waits until the socket is writable, at most read_timeout.
  net::awaitable<beast::error_code> wait_writable() {
    const uint64_t gen = ++wait_gen_;
    timed_out_ = false;
    watchdog_.expires_after(opts_.read_timeout);
    watchdog_.async_wait([self = this->shared_from_this(), gen](beast::error_code ec) {
      if (ec || gen != self->wait_gen_) return;
      self->timed_out_ = true;
      beast::error_code ignored;
      self->lowest().socket().cancel(ignored);
    });
    auto [ec] = co_await lowest().socket().async_wait(net::socket_base::wait_write, kTuple);
    ++wait_gen_;
    watchdog_.cancel();
    if (timed_out_) co_return beast::error_code(beast::error::timeout);
    co_return ec;
  }

  // ---- state --------------------------------------------------------------------------------

  std::shared_ptr<ServerContext> ctx_;
  const ServerOptions& opts_;
  std::shared_ptr<net::ssl::context> tls_;  // TLS only: this session's context, kept alive
  Stream stream_;
  Peer peer_;
  std::string remote_;  // peer_ as logs print it
  net::steady_timer watchdog_;
  uint64_t wait_gen_ = 0;
  bool timed_out_ = false;
  bool idle_ = false;
  bool linger_ = false;  // the client may still be sending: read before closing

  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::string head_;                // response head, reused
  std::unique_ptr<char[]> io_buf_;  // kIoBufferSize, allocated on first use
  std::string sealed_;              // TLS: records of the body chunk being written

  // Current request body.
  Body body_;
  bool chunked_ = false;
  uint64_t remaining_ = 0;  // Content-Length bodies: bytes not yet read
  std::optional<uint64_t> declared_length_;
  bool expect_continue_ = false;
  bool continue_handled_ = false;
  bool continue_sent_ = false;
  bool body_failed_ = false;
  beast::error_code body_error_;
  steady_clock::duration window_waited_{};  // minimum body rate: time waited in this window
  uint64_t window_bytes_ = 0;               // and the bytes it brought
};

template <class Protocol, bool Tls>
void spawn(std::shared_ptr<ServerContext> ctx, typename Protocol::socket socket, Peer peer,
           std::shared_ptr<net::ssl::context> tls) {
  using S = Session<Protocol, Tls>;
  auto exec = socket.get_executor();
  auto session = std::make_shared<S>(ctx, std::move(socket), peer, std::move(tls));
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
