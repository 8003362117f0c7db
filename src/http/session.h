// Internal to the transport: the entry points that start one session (one coroutine per
// connection) on plain TCP, TLS, or either over a unix socket. A session runs on its own strand.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <memory>

#include "http/server_context.h"

namespace onsen::http::detail {

// Starts the session coroutine of an accepted socket on the socket's executor (a strand).
// Request.peer is the TCP peer (IPv4-mapped addresses as IPv4), or a unix-socket Peer; remote is
// its text.
void start_session(std::shared_ptr<ServerContext> ctx, boost::asio::ip::tcp::socket socket);
void start_session(std::shared_ptr<ServerContext> ctx,
                   boost::asio::local::stream_protocol::socket socket);

}  // namespace onsen::http::detail
