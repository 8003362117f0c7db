// Server-side TLS context from ServerOptions: certificate chain + key (PEM), minimum protocol
// version, optional client-certificate verification, ALPN "http/1.1".
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <memory>
#include <vector>

#include "http/server.h"

namespace onsen::http::detail {

// Throws std::runtime_error naming the file or setting at fault.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const ServerOptions& options);

// A cheap identity of one file: stat(2) (following symlinks, so a Kubernetes-style "..data"
// symlink swap counts) of device, inode, size, mtime and ctime; or the errno when stat fails.
struct FileStamp {
  int64_t dev = 0, ino = 0, size = 0, mtime_ns = 0, ctime_ns = 0;
  int error = 0;
  bool operator==(const FileStamp&) const = default;
};

// Stamps of every file make_tls_context reads: certificate, key, client CAs, in that order. Equal
// stamps mean the files are, in all likelihood, unchanged.
std::vector<FileStamp> stamp_tls_files(const ServerOptions& options);

}  // namespace onsen::http::detail
