// TLS test helpers: self-signed certificates made with the OpenSSL API, and a blocking TLS client
// that reports what it negotiated and which certificate the server presented.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "http/server.h"

namespace onsen::http::test {

// A self-signed EC certificate for "localhost" (also a CA, so it can verify itself) in PEM.
struct CertKey {
  std::string cert_pem, key_pem;
  std::string fingerprint;  // SHA-256 of the DER certificate, hex
};

inline std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(digits[p[i] >> 4]);
    s.push_back(digits[p[i] & 15]);
  }
  return s;
}

inline std::string fingerprint(X509* x) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(x, EVP_sha256(), md, &n) != 1) throw std::runtime_error("X509_digest");
  return hex(md, n);
}

inline CertKey make_cert(const std::string& cn = "localhost", long serial = 1) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) throw std::runtime_error("EVP_EC_gen");
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  auto add_ext = [&](int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) throw std::runtime_error("X509V3_EXT_conf_nid");
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  };
  add_ext(NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  add_ext(NID_basic_constraints, "critical,CA:TRUE");
  if (X509_sign(x.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("X509_sign");

  CertKey out;
  auto to_pem = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  };
  out.cert_pem = to_pem([&](BIO* b) { PEM_write_bio_X509(b, x.get()); });
  out.key_pem = to_pem([&](BIO* b) {
    PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  out.fingerprint = fingerprint(x.get());
  return out;
}

inline std::string temp_path(const char* prefix = "onsen_tls_test") {
  std::string path = std::string("/tmp/") + prefix + "_XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) throw std::runtime_error("mkstemp");
  ::close(fd);
  return path;
}

// Overwrites a file in place (same inode), like a careless `cat new > cert.pem`.
inline void write_in_place(const std::string& path, const std::string& content) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("fopen " + path);
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
}

// Replaces a file atomically (temp file + rename: a new inode), like cert-manager or `mv`.
inline void replace_file(const std::string& path, const std::string& content) {
  std::string tmp = path + ".new";
  write_in_place(tmp, content);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("rename");
}

// A certificate and key in temporary PEM files, removed at destruction.
class SelfSigned {
 public:
  explicit SelfSigned(const std::string& cn = "localhost", long serial = 1)
      : pair_(make_cert(cn, serial)), cert_path_(temp_path()), key_path_(temp_path()) {
    write_in_place(cert_path_, pair_.cert_pem);
    write_in_place(key_path_, pair_.key_pem);
  }
  ~SelfSigned() {
    ::unlink(cert_path_.c_str());
    ::unlink(key_path_.c_str());
  }
  SelfSigned(const SelfSigned&) = delete;
  SelfSigned& operator=(const SelfSigned&) = delete;

  const std::string& cert() const { return cert_path_; }
  const std::string& key() const { return key_path_; }
  const CertKey& pem() const { return pair_; }
  const std::string& fingerprint() const { return pair_.fingerprint; }

 private:
  CertKey pair_;
  std::string cert_path_, key_path_;
};

struct TlsClientOptions {
  const SelfSigned* verify_with = nullptr;  // trust this certificate; null = no verification
  const SelfSigned* present = nullptr;      // client certificate
  int max_version = 0;                      // e.g. TLS1_2_VERSION; 0 = library default
  std::string cipher_list;                  // TLS <= 1.2 (OpenSSL names); empty = default
  std::string ciphersuites;                 // TLS 1.3; empty = default
  SSL_SESSION* resume = nullptr;            // offer this session (TlsClient::session())
};

namespace tls_util {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// A blocking TLS client over TCP to 127.0.0.1:port; throws on handshake or I/O failure.
class TlsClient {
  using tcp = boost::asio::ip::tcp;

 public:
  TlsClient(unsigned short port, const SelfSigned& ca, bool present_cert = false,
            int max_version = 0)
      : TlsClient(port, TlsClientOptions{&ca, present_cert ? &ca : nullptr, max_version, {}, {}}) {}

  TlsClient(unsigned short port, const TlsClientOptions& o) : ctx_(ssl::context::tls_client) {
    configure(o);
    stream_ = std::make_unique<beast::ssl_stream<tcp::socket>>(ioc_, ctx_);
    SSL_set_tlsext_host_name(stream_->native_handle(), "localhost");
    if (o.resume && SSL_set_session(stream_->native_handle(), o.resume) != 1) {
      throw std::runtime_error("client session");
    }
    if (o.verify_with) stream_->set_verify_callback(ssl::host_name_verification("localhost"));
    tcp::socket& s = beast::get_lowest_layer(*stream_);
    s.connect({net::ip::address_v4::loopback(), port});
    timeval tv{5, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    stream_->handshake(ssl::stream_base::client);
  }

  bhttp::response<bhttp::string_body> request(const std::string& method,
                                              const std::string& target) {
    bhttp::request<bhttp::empty_body> req{method == "HEAD" ? bhttp::verb::head : bhttp::verb::get,
                                          target, 11};
    req.set(bhttp::field::host, "localhost");
    bhttp::write(*stream_, req);
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(boost::none);
    if (method == "HEAD") p.skip(true);
    bhttp::read(*stream_, buf_, p);
    return p.release();
  }

  // A GET whose response is read in two steps: start_get reads up to the end of the head,
  // finish_get the rest (the body).
  void start_get(const std::string& target) {
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "localhost");
    bhttp::write(*stream_, req);
    pending_.emplace();
    pending_->body_limit(boost::none);
    bhttp::read_header(*stream_, buf_, *pending_);
  }
  bhttp::response<bhttp::string_body> finish_get() {
    bhttp::read(*stream_, buf_, *pending_);
    auto r = pending_->release();
    pending_.reset();
    return r;
  }

  // The TCP socket under TLS.
  int fd() { return beast::get_lowest_layer(*stream_).native_handle(); }

  // SHA-256 fingerprint of the certificate the server presented.
  std::string peer_fingerprint() {
    std::unique_ptr<X509, decltype(&X509_free)> x(SSL_get1_peer_certificate(native()), X509_free);
    if (!x) throw std::runtime_error("no peer certificate");
    return fingerprint(x.get());
  }
  std::string cipher() { return SSL_get_cipher_name(native()); }
  std::string version() { return SSL_get_version(native()); }
  // The session to resume on a later connection (TLS 1.3: its ticket comes after the handshake,
  // so ask after a response was read).
  std::shared_ptr<SSL_SESSION> session() {
    return std::shared_ptr<SSL_SESSION>(SSL_get1_session(native()), SSL_SESSION_free);
  }
  bool resumed() { return SSL_session_reused(native()) == 1; }

 private:
  SSL* native() { return stream_->native_handle(); }

  void configure(const TlsClientOptions& o) {
    if (o.verify_with) {
      ctx_.load_verify_file(o.verify_with->cert());
      ctx_.set_verify_mode(ssl::verify_peer);
    } else {
      ctx_.set_verify_mode(ssl::verify_none);
    }
    if (o.max_version) SSL_CTX_set_max_proto_version(ctx_.native_handle(), o.max_version);
    if (!o.cipher_list.empty() &&
        SSL_CTX_set_cipher_list(ctx_.native_handle(), o.cipher_list.c_str()) != 1) {
      throw std::runtime_error("client cipher list");
    }
    if (!o.ciphersuites.empty() &&
        SSL_CTX_set_ciphersuites(ctx_.native_handle(), o.ciphersuites.c_str()) != 1) {
      throw std::runtime_error("client ciphersuites");
    }
    if (o.present) {
      ctx_.use_certificate_chain_file(o.present->cert());
      ctx_.use_private_key_file(o.present->key(), ssl::context::pem);
    }
  }

  boost::asio::io_context ioc_;
  ssl::context ctx_;
  std::unique_ptr<beast::ssl_stream<tcp::socket>> stream_;  // made once ctx_ is configured
  beast::flat_buffer buf_;
  std::optional<bhttp::response_parser<bhttp::string_body>> pending_;  // start_get's response
};

}  // namespace tls_util

using tls_util::TlsClient;

// Server options for TLS with the certificate and key of `files`, re-read every `reload`.
inline ServerOptions tls_options(const SelfSigned& files, std::chrono::milliseconds reload =
                                                              ServerOptions{}.tls_reload_interval) {
  ServerOptions opts;
  opts.tls_certificate = files.cert();
  opts.tls_key = files.key();
  opts.tls_reload_interval = reload;
  return opts;
}

}  // namespace onsen::http::test
