// Server: listener, thread pool, graceful stop (see server.h). Sessions live in session.cpp, the
// TLS context in tls.cpp.
#include "http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/watched_file.h"
#include "http/session.h"
#include "http/tls.h"

namespace onsen::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using local = net::local::stream_protocol;

namespace {

// "host:port", ":port", "[v6]:port" -> endpoint. Host names are resolved (first address wins).
tcp::endpoint parse_addr(net::io_context& ioc, const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) {
    throw std::runtime_error(fmt::format("invalid listen address '{}': expected host:port", addr));
  }
  std::string host = addr.substr(0, colon);
  std::string port_str = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned long port = 0;
  try {
    size_t used = 0;
    port = std::stoul(port_str, &used);
    if (used != port_str.size() || port > 65535) throw std::invalid_argument("port");
  } catch (const std::exception&) {
    throw std::runtime_error(fmt::format("invalid listen address '{}': bad port", addr));
  }
  auto p = static_cast<unsigned short>(port);
  // Wildcards are "::" here: listen_tcp makes that one dual-stack socket (as Go does).
  if (host.empty()) return {net::ip::address_v6::any(), p};
  boost::system::error_code ec;
  auto a = net::ip::make_address(host, ec);
  if (!ec) return {a.is_unspecified() ? net::ip::address(net::ip::address_v6::any()) : a, p};
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, port_str, ec);
  if (ec || results.empty()) {
    throw std::runtime_error(fmt::format("invalid listen address '{}': cannot resolve '{}': {}",
                                         addr, host, ec ? ec.message() : "no address"));
  }
  return results.begin()->endpoint();
}

// A unix socket file nobody listens on any more (a crashed server's) is removed; a live one, or a
// path that is not a socket, is an error.
void remove_stale_socket(const std::string& path) {
  auto fail = [&](const std::string& why) {
    throw std::runtime_error(fmt::format("cannot listen on unix socket '{}': {}", path, why));
  };
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    fail(std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) fail("the path exists and is not a socket");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) fail("path too long");
  std::memcpy(sa.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) fail(std::strerror(errno));
  int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  int err = errno;
  ::close(fd);
  if (r == 0 || err == EAGAIN) fail("another server is listening on it");
  if (err != ECONNREFUSED)
    fail(fmt::format("cannot tell whether it is in use: {}", std::strerror(err)));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    fail(fmt::format("cannot remove the stale socket: {}", std::strerror(errno)));
  }
}

constexpr mode_t kSocketMode = 0660;

// How long an in-memory session ticket key encrypts new tickets (then it only decrypts, for as
// long again): this bounds the sessions one leaked key would expose.
constexpr std::chrono::hours kTicketKeyRotation{12};

// Every connection holds a descriptor and requests open more (blob files, uploads, temp files),
// while the soft RLIMIT_NOFILE is often 1024: thousands of idle connections would make storage
// fail with EMFILE (500s) and accept() spin. So the soft limit is raised to the hard one (as Go's
// runtime does for registry:2), and the connection limit kept to half of it, leaving the other
// half to requests in flight. Returns the connection limit to use.
size_t fit_connections_to_descriptors(size_t max_connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return max_connections;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < lim.rlim_max) {
    rlimit raised{lim.rlim_max, lim.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  if (lim.rlim_cur == RLIM_INFINITY) return max_connections;
  const auto usable = static_cast<size_t>(std::max<rlim_t>(lim.rlim_cur / 2, 16));
  if (max_connections <= usable) return max_connections;
  spdlog::info("connection limit lowered from {} to {}: the descriptor limit (RLIMIT_NOFILE) is {}",
               max_connections, usable, static_cast<uint64_t>(lim.rlim_cur));
  return usable;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, Handler h)
      : ioc(static_cast<int>(std::max<size_t>(1, o.threads))),
        strand(net::make_strand(ioc)),
        acceptor(strand),
        unix_acceptor(strand),
        drain_timer(strand),
        reload_timer(strand),
        ctx(std::make_shared<detail::ServerContext>()) {
    ctx->options = std::move(o);
    ctx->handler = std::move(h);
  }

  ~Impl() {
    ctx->set_on_drained(nullptr);
    ioc.stop();
    remove_socket_file();
  }

  const ServerOptions& opts() const { return ctx->options; }

  void start() {
    if (started) throw std::runtime_error("server already started");
    std::signal(SIGPIPE, SIG_IGN);
    ctx->options.max_connections = fit_connections_to_descriptors(opts().max_connections);
    if (opts().net == "unix") {
      unix_socket = true;
    } else if (!opts().net.empty() && opts().net != "tcp") {
      throw std::runtime_error(
          fmt::format("unsupported network '{}' (expected tcp or unix)", opts().net));
    }
    // A typo fails even without TLS.
    auto suites = detail::resolve_cipher_suites(opts().tls_cipher_suites);
    const bool tls = !opts().tls_certificate.empty() || !opts().tls_key.empty();
    for (const auto& suite : suites.suites) {
      if (tls && !suite.available) {
        spdlog::warn("TLS cipher suite {} is not available in this OpenSSL build: ignored",
                     suite.name);
      }
    }
    if (tls) {
      for (auto& path : detail::tls_file_paths(opts())) tls_files.emplace_back(std::move(path));
      // Stamped before loading: a change made while loading is seen by the first check.
      auto stamps = stamp_tls_files();
      if (opts().tls_ticket_keys.empty()) {
        ctx->ticket_keys = detail::TicketKeys::rotating(kTicketKeyRotation);
      }
      ctx->set_tls_context(make_tls_context());
      accept_tls_files(stamps);
      ctx->handshakes = std::make_unique<detail::HandshakeGate>(
          opts().tls_handshakes ? opts().tls_handshakes : std::max<size_t>(1, opts().threads));
      ctx->tls = true;
    }
    if (unix_socket) {
      listen_unix();
    } else {
      listen_tcp();
    }
    started = true;
    ctx->set_on_drained([this] { net::post(strand, [this] { finish_stop(); }); });
    if (unix_socket) {
      net::co_spawn(strand, accept_loop(unix_acceptor), net::detached);
    } else {
      net::co_spawn(strand, accept_loop(acceptor), net::detached);
    }
    if (ctx->tls && opts().tls_reload_interval.count() > 0) schedule_tls_check();
  }

  // A wildcard address (":5000", "0.0.0.0:5000", "[::]:5000") listens as Go's net.Listen("tcp")
  // does for registry:2: one IPv6 socket with IPV6_V6ONLY off, which takes IPv4 connections too
  // (they show as v4-mapped addresses, logged as plain IPv4). Without IPv6 on the machine it is
  // the IPv4 wildcard. Any other address is that one address only.
  void listen_tcp() {
    auto ep = parse_addr(ioc, opts().addr);
    boost::system::error_code ec;
    const bool any = ep.address().is_unspecified();
    if (any && !bind_tcp(ep, ec)) {
      if (ec != net::error::address_family_not_supported &&
          ec != boost::system::errc::address_not_available) {
        fail_listen("bind", ec);
      }
      spdlog::info("no IPv6 on this machine ({}): listening on IPv4 only", ec.message());
      ep = {net::ip::address_v4::any(), ep.port()};
    }
    if (!acceptor.is_open() && !bind_tcp(ep, ec)) fail_listen("bind", ec);
    acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) fail_listen("listen", ec);
    bound_port = acceptor.local_endpoint(ec).port();
    const bool dual = any && ep.address().is_v6();
    spdlog::info("listening on {}:{}{}{}",
                 dual                   ? "*"
                 : ep.address().is_v6() ? "[" + ep.address().to_string() + "]"
                                        : ep.address().to_string(),
                 bound_port, dual ? " (IPv4 and IPv6)" : "", ctx->tls ? " (TLS)" : "");
  }

  // Opens the acceptor and binds it to ep; false (acceptor closed, ec set) on failure.
  bool bind_tcp(const tcp::endpoint& ep, boost::system::error_code& ec) {
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && ep.address().is_v6()) acceptor.set_option(net::ip::v6_only(false), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) return true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return false;
  }

  [[noreturn]] void fail_listen(const char* what, const boost::system::error_code& ec) {
    throw std::runtime_error(
        fmt::format("cannot listen on '{}': {}: {}", opts().addr, what, ec.message()));
  }

  void listen_unix() {
    const std::string& path = opts().addr;
    boost::system::error_code ec;
    auto fail = [&](const std::string& what) {
      throw std::runtime_error(fmt::format("cannot listen on unix socket '{}': {}", path, what));
    };
    if (path.empty()) fail("empty path");
    const bool abstract = path.front() == '@';  // Linux abstract namespace: no file
    local::endpoint ep;
    try {
      std::string name = path;
      if (abstract) name.front() = '\0';
      ep = local::endpoint(name);
    } catch (const boost::system::system_error& e) {
      fail(e.code().message());
    }
    if (!abstract) remove_stale_socket(path);
    unix_acceptor.open(ep.protocol(), ec);
    if (ec) fail("socket: " + ec.message());
    unix_acceptor.bind(ep, ec);
    if (ec) fail("bind: " + ec.message());
    if (!abstract) {
      // Before listen(): nobody can connect while the file still has the umask's mode.
      socket_path = path;
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0) socket_file = {st.st_dev, st.st_ino};
      if (::chmod(path.c_str(), kSocketMode) != 0) {
        spdlog::warn("unix socket '{}': chmod {:o}: {}", path, kSocketMode, std::strerror(errno));
      }
    }
    unix_acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      unix_acceptor.close(ec);
      remove_socket_file();
      fail("listen: " + ec.message());
    }
    spdlog::info("listening on unix socket {}{}", path, ctx->tls ? " (TLS)" : "");
  }

  // Removes the socket file we created, unless someone replaced it since.
  void remove_socket_file() {
    if (socket_path.empty()) return;
    struct stat st {};
    if (::lstat(socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
        std::pair(st.st_dev, st.st_ino) == socket_file) {
      ::unlink(socket_path.c_str());
    }
    socket_path.clear();
  }

  template <class Acceptor>
  net::awaitable<void> accept_loop(Acceptor& acc) {
    net::steady_timer backoff(strand);
    for (;;) {
      net::any_io_executor session_exec = net::make_strand(ioc);
      auto [ec, socket] =
          co_await acc.async_accept(session_exec, net::as_tuple(net::use_awaitable));
      if (ec) {
        if (ec == net::error::operation_aborted || !acc.is_open() || ctx->stopping) co_return;
        spdlog::warn("accept: {}", ec.message());
        // Out of descriptors or memory: back off instead of spinning.
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(net::as_tuple(net::use_awaitable));
        continue;
      }
      if (ctx->stopping) {
        // Accepted before do_stop() closed the acceptor, resumed after it: do_stop() may have
        // found no connection and finished already, so nothing would bound this one.
        boost::system::error_code ignored;
        socket.close(ignored);
        co_return;
      }
      if (ctx->active.load() >= opts().max_connections) {
        boost::system::error_code ignored;
        socket.close(ignored);
        auto now = std::chrono::steady_clock::now();
        if (now - last_limit_log > std::chrono::seconds(10)) {
          last_limit_log = now;
          spdlog::warn("connection limit ({}) reached: refusing connections",
                       opts().max_connections);
        }
        continue;
      }
      detail::start_session(ctx, std::move(socket));
    }
  }

  // ---- certificate rotation (on the strand) ----

  std::shared_ptr<net::ssl::context> make_tls_context() {
    return detail::make_tls_context(opts(), &ctx->tls_stats, ctx->ticket_keys);
  }

  void schedule_tls_check() {
    reload_timer.expires_after(opts().tls_reload_interval);
    reload_timer.async_wait([this](boost::system::error_code ec) {
      if (ec || ctx->stopping) return;
      check_tls_files();
      schedule_tls_check();
    });
  }

  std::vector<base::FileStamp> stamp_tls_files() const {
    std::vector<base::FileStamp> stamps;
    for (const auto& file : tls_files) stamps.push_back(file.stamp());
    return stamps;
  }
  void accept_tls_files(const std::vector<base::FileStamp>& stamps) {
    for (size_t i = 0; i < tls_files.size(); ++i) tls_files[i].accept(stamps[i]);
  }

  void check_tls_files() {
    auto stamp = stamp_tls_files();
    bool changed = false, racy = false;
    for (size_t i = 0; i < tls_files.size(); ++i) {
      if (!tls_files[i].may_have_changed(stamp[i])) continue;
      (stamp[i] == tls_files[i].accepted() ? racy : changed) = true;
    }
    if (!changed && !racy) return;
    try {
      ctx->set_tls_context(make_tls_context());
    } catch (const std::exception& e) {
      if (stamp != tls_failed_stamp) {
        spdlog::warn(
            "TLS files changed but cannot be loaded (still serving the previous "
            "certificate; will retry): {}",
            e.what());
        tls_failed_stamp = std::move(stamp);
      }
      return;
    }
    // A racy re-read (files written just before the last load, unchanged since) is routine.
    spdlog::log(changed ? spdlog::level::info : spdlog::level::debug,
                "TLS: reloaded certificate '{}' and key '{}' for new connections",
                opts().tls_certificate, opts().tls_key);
    accept_tls_files(stamp);
    tls_failed_stamp.clear();
  }

  // On the strand.
  void do_stop() {
    if (ctx->stopping.exchange(true)) return;
    spdlog::info("stopping: draining {} connection(s)", ctx->active.load());
    boost::system::error_code ignored;
    acceptor.close(ignored);
    unix_acceptor.close(ignored);
    remove_socket_file();
    reload_timer.cancel();
    ctx->shutdown_all(false);
    if (ctx->active.load() == 0) {
      finish_stop();
      return;
    }
    drain_timer.expires_after(opts().drain_timeout);
    drain_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      spdlog::warn("drain timeout: closing {} connection(s)", ctx->active.load());
      ctx->shutdown_all(true);
      // Handlers blocked on something other than their socket cannot be interrupted; give the
      // rest a moment, then leave run() regardless.
      drain_timer.expires_after(std::chrono::seconds(1));
      drain_timer.async_wait([this](boost::system::error_code ec2) {
        if (!ec2) ioc.stop();
      });
    });
  }

  // On the strand: everything drained. run() returns now even if some operation is still
  // pending (a timer, a signal wait, an accept completion not yet delivered): with no connection
  // left nothing remains to be done, and waiting for the io_context to run out of work would let
  // one forgotten operation keep the process alive for good.
  void finish_stop() {
    drain_timer.cancel();
    if (signals) {
      boost::system::error_code ignored;
      signals->cancel(ignored);
    }
    ioc.stop();
  }

  TlsCounters counters() const {
    const auto& s = ctx->tls_stats;
    return {s.handshakes.load(), s.signatures.load(), s.resumed.load(), s.client_gone.load(),
            s.gave_up.load()};
  }

  void stop_on_signals() {
    signals.emplace(strand, SIGINT, SIGTERM);
    wait_signal();
  }

  void wait_signal() {
    signals->async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (ctx->stopping) {
        spdlog::warn("signal {} again: exiting now", sig);
        ioc.stop();
        return;
      }
      spdlog::info("signal {}: graceful stop", sig);
      do_stop();
      if (ctx->active.load() > 0) wait_signal();  // a second signal forces the exit
    });
  }

  void run() {
    size_t n = std::max<size_t>(1, opts().threads);
    std::vector<std::thread> pool;
    pool.reserve(n - 1);
    auto loop = [this] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("I/O loop: {}", e.what());
        }
      }
    };
    for (size_t i = 1; i < n; ++i) pool.emplace_back(loop);
    loop();
    for (auto& t : pool) t.join();
    // Read by tests/hostile/tls_handshake_test.py (signatures spent on dead connections).
    if (ctx->tls) {
      auto c = counters();
      spdlog::info(
          "TLS: {} handshakes started, {} private-key signatures, {} resumed; dropped unsigned: "
          "{} (client gone), {} (waited too long)",
          c.handshakes, c.signatures, c.resumed, c.client_gone, c.gave_up);
    }
  }

  net::io_context ioc;
  net::strand<net::io_context::executor_type> strand;  // acceptor, stop, signals
  tcp::acceptor acceptor;                              // net "tcp"
  local::acceptor unix_acceptor;                       // net "unix"
  bool unix_socket = false;
  std::string socket_path;  // the socket file to remove at stop; empty: none
  std::pair<dev_t, ino_t> socket_file{};
  net::steady_timer drain_timer;
  net::steady_timer reload_timer;                 // TLS file checks
  std::vector<base::WatchedFile> tls_files;       // what make_tls_context reads, watched
  std::vector<base::FileStamp> tls_failed_stamp;  // files that last failed to load (warned)
  std::optional<net::signal_set> signals;
  std::shared_ptr<detail::ServerContext> ctx;
  bool started = false;
  unsigned short bound_port = 0;
  std::chrono::steady_clock::time_point last_limit_log{};
};

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() = default;

void Server::start() {
  impl_->start();
}

unsigned short Server::port() const {
  return impl_->bound_port;
}

void Server::run() {
  impl_->run();
}

void Server::stop() {
  net::post(impl_->strand, [impl = impl_.get()] { impl->do_stop(); });
}

void Server::stop_on_signals() {
  impl_->stop_on_signals();
}

TlsCounters Server::tls_counters() const {
  return impl_->counters();
}

size_t Server::open_connections() const {
  return impl_->ctx->active.load(std::memory_order_relaxed);
}

bool Server::stopping() const {
  return impl_->ctx->stopping;
}

void Server::post(std::function<void()> fn) {
  net::post(impl_->ioc, std::move(fn));
}

}  // namespace onsen::http
