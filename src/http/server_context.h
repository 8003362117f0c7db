// Internal to the transport: the state a server shares with its sessions (options, handler,
// live connections, the current TLS context) and what it can ask of a live connection.
//
// Thread safety: ServerContext is shared by all sessions; its mutable parts are atomics or guarded
// by its mutex. shutdown_all() may be called from any thread.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "http/handshake_gate.h"
#include "http/message.h"
#include "http/server.h"
#include "http/tls.h"

namespace onsen::http::detail {

// What the server can ask of a live connection.
class Connection {
 public:
  virtual ~Connection() = default;
  // Closes the connection if it is idle (waiting for a request), or always when force is set.
  // Thread-safe: posts to the session's strand.
  virtual void shutdown(bool force) = 0;
};

struct ServerContext {
  ServerOptions options;
  Handler handler;
  bool tls = false;  // set before the first session starts; constant afterwards
  std::atomic<bool> stopping{false};
  std::atomic<size_t> active{0};  // live connections (accepted, not yet destroyed)
  TlsStats tls_stats;
  // File bodies being sent (plain TCP or TLS), all connections together: while there is only
  // one, its socket's unsent bytes are bounded (unsent_bound.h). Per server, not per process, so
  // that two servers in one process (tests) do not change each other's sending.
  std::atomic<unsigned> active_file_sends{0};
  std::unique_ptr<HandshakeGate> handshakes;  // TLS only: set before the first session starts
  std::shared_ptr<TicketKeys> ticket_keys;    // TLS without a ticket key file: in memory

  // Called (on some session thread, without the lock held) when the last connection goes away
  // while stopping. Cleared by the server before it is destroyed.
  void set_on_drained(std::function<void()> f);

  void add(const std::shared_ptr<Connection>& c);
  // Called from a session's destructor.
  void remove(Connection* c);
  // Calls shutdown(force) on every live connection.
  void shutdown_all(bool force);

  // The TLS context new connections use (null without TLS). A session keeps the one it started
  // with for its whole life, so replacing it (certificate rotation) leaves live sessions alone.
  std::shared_ptr<boost::asio::ssl::context> tls_context() const;
  void set_tls_context(std::shared_ptr<boost::asio::ssl::context> c);

 private:
  mutable std::mutex tls_mu_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::mutex mu_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> conns_;
  std::function<void()> on_drained_;
};

}  // namespace onsen::http::detail
