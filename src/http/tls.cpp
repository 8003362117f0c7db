// make_tls_context and stamp_tls_files (see tls.h).
#include "http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "http/wire.h"

namespace onsen::http::detail {

namespace ssl = boost::asio::ssl;

namespace {

int parse_min_version(const std::string& v) {
  if (v.empty()) return TLS1_2_VERSION;
  std::string s;
  for (char c : v) {
    if (c != '.' && c != '_' && c != 'v' && c != 'V')
      s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (s.rfind("tls", 0) == 0) s = s.substr(3);
  if (s == "10") return TLS1_VERSION;
  if (s == "11") return TLS1_1_VERSION;
  if (s == "12") return TLS1_2_VERSION;
  if (s == "13") return TLS1_3_VERSION;
  throw std::runtime_error(fmt::format(
      "TLS: unknown minimum version '{}' (expected tls1.0, tls1.1, tls1.2 or tls1.3)", v));
}

// Picks "http/1.1" when the client offers it; otherwise no ALPN (HTTP/1.1 is implied).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == sizeof kHttp11 && std::memcmp(in + i + 1, kHttp11, len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

FileStamp stamp_file(const std::string& path) {
  FileStamp s;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    s.error = errno;
    return s;
  }
  auto ns = [](const timespec& t) {
    return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + static_cast<int64_t>(t.tv_nsec);
  };
  s.dev = static_cast<int64_t>(st.st_dev);
  s.ino = static_cast<int64_t>(st.st_ino);
  s.size = static_cast<int64_t>(st.st_size);
  s.mtime_ns = ns(st.st_mtim);
  s.ctime_ns = ns(st.st_ctim);
  return s;
}

}  // namespace

std::vector<FileStamp> stamp_tls_files(const ServerOptions& o) {
  std::vector<FileStamp> stamps;
  stamps.reserve(2 + o.tls_client_cas.size());
  stamps.push_back(stamp_file(o.tls_certificate));
  stamps.push_back(stamp_file(o.tls_key));
  for (const auto& ca : o.tls_client_cas) stamps.push_back(stamp_file(ca));
  return stamps;
}

namespace {

std::shared_ptr<ssl::context> build_tls_context(const ServerOptions& o) {
  if (o.tls_certificate.empty() || o.tls_key.empty()) {
    throw std::runtime_error("TLS: both a certificate and a key are required");
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                   ssl::context::single_dh_use | SSL_OP_NO_RENEGOTIATION |
                   SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, parse_min_version(o.tls_min_version)) != 1) {
    throw std::runtime_error(fmt::format("TLS: cannot set minimum version '{}': {}",
                                         o.tls_min_version, openssl_error()));
  }
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(o.tls_certificate, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("TLS: cannot load certificate '{}': {}", o.tls_certificate, ec.message()));
  }
  ctx->use_private_key_file(o.tls_key, ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("TLS: cannot load key '{}': {}", o.tls_key, ec.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error(fmt::format("TLS: key '{}' does not match certificate '{}': {}",
                                         o.tls_key, o.tls_certificate, openssl_error()));
  }
  static const unsigned char kSessionContext[] = "onsen";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);

  if (!o.tls_client_cas.empty()) {
    for (const auto& ca : o.tls_client_cas) {
      ctx->load_verify_file(ca, ec);
      if (ec) {
        throw std::runtime_error(
            fmt::format("TLS: cannot load client CA '{}': {}", ca, ec.message()));
      }
      // Advertise the acceptable CA names in the CertificateRequest.
      if (SSL_add_file_cert_subjects_to_stack(SSL_CTX_get_client_CA_list(native), ca.c_str()) !=
          1) {
        ERR_clear_error();
      }
    }
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const ServerOptions& o) {
  try {
    return build_tls_context(o);
  } catch (...) {
    // Leave no error behind in this thread's queue: a later TLS operation on the same thread
    // would read it as its own.
    ERR_clear_error();
    throw;
  }
}

}  // namespace onsen::http::detail
