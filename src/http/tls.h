// Server-side TLS context from ServerOptions: certificate chain + key (PEM), minimum protocol
// version, optional client-certificate verification, ALPN "http/1.1".
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http/handshake_gate.h"
#include "http/server.h"
#include "http/ticket_keys.h"

namespace onsen::http::detail {

// What the TLS layer did, for the log line at stop and Server::tls_counters.
struct TlsStats {
  std::atomic<uint64_t> handshakes{0};   // ClientHellos handed to OpenSSL
  std::atomic<uint64_t> signatures{0};   // server flights signed with the private key (full
                                         // handshakes: TLS 1.3 CertificateVerify, TLS 1.2
                                         // ServerKeyExchange)
  std::atomic<uint64_t> resumed{0};      // handshakes completed by session resumption
  std::atomic<uint64_t> client_gone{0};  // dropped before signing: the client had closed
  std::atomic<uint64_t> gave_up{0};      // dropped after waiting read_timeout for a slot
};

// Throws std::runtime_error naming the file or setting at fault. `stats` (may be null) must
// outlive the context; its signatures are counted there. Session tickets use the key file of
// options.tls_ticket_keys, else `memory_keys` (shared by the contexts that replace each other as
// certificates rotate, so tickets survive a reload), else OpenSSL's own per-context key.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(
    const ServerOptions& options, TlsStats* stats = nullptr,
    std::shared_ptr<TicketKeys> memory_keys = nullptr);

// Ties a connection's handshake slot to its SSL object (null: detach). A full handshake (one that
// will sign) then pauses once the ClientHello is processed, before the signature, while `slot`
// is empty: the handshake operation ends with an error and handshake_needs_slot() says why. The
// caller fills `slot` (HandshakeGate::admit) and resumes the handshake. A resumed session signs
// nothing and never pauses. The TLS layer releases the slot as soon as the server's first flight
// is built (right after the signature), so a client's round trip never holds it.
void attach_handshake_slot(SSL* ssl, HandshakeGate::Slot* slot);

// The handshake stopped because it is about to sign and its attached slot is empty.
bool handshake_needs_slot(const SSL* ssl);

// ServerOptions::tls_cipher_suites resolved to OpenSSL names.
struct CipherSuites {
  struct Suite {
    std::string name;     // as configured (Go/IANA)
    std::string openssl;  // OpenSSL's name
    bool tls13 = false;
    bool available = true;  // false: this OpenSSL build lacks it (3DES on Debian 12): skipped
  };
  std::vector<Suite> suites;  // in the configured order, duplicates dropped
  std::string tls12_list;     // available TLS <= 1.2 suites, for SSL_CTX_set_cipher_list
  std::string tls13_list;     // available TLS 1.3 suites, for SSL_CTX_set_ciphersuites
};

// Accepts exactly the names Distribution accepts (Go's crypto/tls constant names). Throws
// std::runtime_error naming the first unknown one. A known suite this OpenSSL lacks is not an
// error (Distribution would accept the configuration): it is marked unavailable and left out.
// When suites are listed but no TLS <= 1.2 one is available, those versions are refused.
CipherSuites resolve_cipher_suites(const std::vector<std::string>& names);

// Every file make_tls_context reads: certificate, key, second pair, client CAs, ticket keys
// (watched for rotation by the server, see base/watched_file.h).
std::vector<std::string> tls_file_paths(const ServerOptions& options);

}  // namespace onsen::http::detail
