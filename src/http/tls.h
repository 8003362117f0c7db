// Server-side TLS context from ServerOptions: certificate chain + key (PEM), minimum protocol
// version, optional client-certificate verification, ALPN "http/1.1".
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>

#include "http/server.h"

namespace onsen::http::detail {

// Throws std::runtime_error naming the file or setting at fault.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const ServerOptions& options);

}  // namespace onsen::http::detail
