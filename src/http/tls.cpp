// make_tls_context, resolve_cipher_suites and tls_file_paths (see tls.h).
#include "http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "http/cipher_suites.h"
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

// Names of every TLS cipher suite this OpenSSL build has (whatever the security level).
const std::vector<std::string>& available_suites() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> probe(SSL_CTX_new(TLS_server_method()),
                                                            SSL_CTX_free);
    if (probe && SSL_CTX_set_cipher_list(probe.get(), "ALL:COMPLEMENTOFALL:@SECLEVEL=0") == 1) {
      STACK_OF(SSL_CIPHER)* all = SSL_CTX_get_ciphers(probe.get());
      for (int i = 0; all && i < sk_SSL_CIPHER_num(all); ++i) {
        out.emplace_back(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(all, i)));
      }
    }
    ERR_clear_error();
    return out;
  }();
  return names;
}

// Restricts the context to the configured suites.
void apply_cipher_suites(SSL_CTX* native, const CipherSuites& cs) {
  if (cs.suites.empty()) return;
  if (cs.tls12_list.empty()) {
    // Nothing usable below TLS 1.3: refuse those versions outright.
    if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1) {
      throw std::runtime_error(fmt::format("TLS: cannot require TLS 1.3: {}", openssl_error()));
    }
  } else if (SSL_CTX_set_cipher_list(native, cs.tls12_list.c_str()) != 1) {
    throw std::runtime_error(
        fmt::format("TLS: cannot set cipher suites '{}': {}", cs.tls12_list, openssl_error()));
  }
  if (!cs.tls13_list.empty() && SSL_CTX_set_ciphersuites(native, cs.tls13_list.c_str()) != 1) {
    throw std::runtime_error(
        fmt::format("TLS: cannot set cipher suites '{}': {}", cs.tls13_list, openssl_error()));
  }
}

// Indexes of our pointers in OpenSSL's ex_data: the TlsStats of a context, the handshake slot of
// a connection (asio keeps its own pointer in the SSL's app data).
int stats_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Called by OpenSSL at each step of a server handshake, on the thread running it. At a write
// transition the state is that of the message just built: a CertificateVerify (TLS 1.3) or a
// ServerKeyExchange (TLS 1.2) carries the signature; a ServerHelloDone, a server Finished or (TLS
// 1.3) the early-data state, which also follows a HelloRetryRequest, ends the server's flight, so
// a client that stalls after a HelloRetryRequest holds no slot. (TLS 1.2 with RSA key transport
// decrypts later, outside the slot: no client of ours offers it before ECDHE.)
void on_handshake_step(const SSL* ssl, int where, int) {
  if (!(where & SSL_CB_ACCEPT_LOOP)) return;
  const OSSL_HANDSHAKE_STATE state = SSL_get_state(ssl);
  const bool signed_now = state == TLS_ST_SW_CERT_VRFY || state == TLS_ST_SW_KEY_EXCH;
  if (signed_now) {
    auto* stats = static_cast<TlsStats*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), stats_index()));
    if (stats) stats->signatures.fetch_add(1, std::memory_order_relaxed);
  }
  if (signed_now || state == TLS_ST_SW_SRVR_DONE || state == TLS_ST_SW_FINISHED ||
      state == TLS_ST_EARLY_DATA) {
    if (auto* slot = static_cast<HandshakeGate::Slot*>(SSL_get_ex_data(ssl, slot_index()))) {
      slot->release();
    }
  }
}

// Called by OpenSSL once it has processed a ClientHello that starts a full handshake (never for
// a resumed session), before the server's certificate is chosen and anything is signed. -1
// suspends the handshake (SSL_ERROR_WANT_X509_LOOKUP); resumed, it calls this again.
int on_certificate_needed(SSL* ssl, void*) {
  const auto* slot = static_cast<HandshakeGate::Slot*>(SSL_get_ex_data(ssl, slot_index()));
  return !slot || *slot ? 1 : -1;
}

}  // namespace

void attach_handshake_slot(SSL* ssl, HandshakeGate::Slot* slot) {
  SSL_set_ex_data(ssl, slot_index(), slot);
}

bool handshake_needs_slot(const SSL* ssl) {
  return SSL_want_x509_lookup(ssl);
}

CipherSuites resolve_cipher_suites(const std::vector<std::string>& names) {
  CipherSuites cs;
  for (const auto& name : names) {
    const CipherSuiteName* known = find_cipher_suite(name);
    if (!known) {
      throw std::runtime_error(
          fmt::format("TLS: unknown cipher suite '{}' (expected a Go/IANA name such as "
                      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_AES_128_GCM_SHA256)",
                      name));
    }
    bool seen = false;
    for (const auto& s : cs.suites) seen = seen || s.name == name;
    if (seen) continue;
    const auto& avail = available_suites();
    bool available = std::find(avail.begin(), avail.end(), known->openssl) != avail.end();
    cs.suites.push_back(
        {std::string(known->name), std::string(known->openssl), known->tls13, available});
    if (!available) continue;
    std::string& list = known->tls13 ? cs.tls13_list : cs.tls12_list;
    if (!list.empty()) list += ':';
    list += known->openssl;
  }
  return cs;
}

std::vector<std::string> tls_file_paths(const ServerOptions& o) {
  std::vector<std::string> paths = {o.tls_certificate, o.tls_key};
  if (!o.tls_second_certificate.empty()) {
    paths.insert(paths.end(), {o.tls_second_certificate, o.tls_second_key});
  }
  paths.insert(paths.end(), o.tls_client_cas.begin(), o.tls_client_cas.end());
  if (!o.tls_ticket_keys.empty()) paths.push_back(o.tls_ticket_keys);
  return paths;
}

namespace {

// Loads a certificate chain and its key into the context (beside pairs of other key types).
void load_pair(ssl::context& ctx, const std::string& certificate, const std::string& key) {
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(certificate, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("TLS: cannot load certificate '{}': {}", certificate, ec.message()));
  }
  ctx.use_private_key_file(key, ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("TLS: cannot load key '{}': {}", key, ec.message()));
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    throw std::runtime_error(fmt::format("TLS: key '{}' does not match certificate '{}': {}", key,
                                         certificate, openssl_error()));
  }
}

// The key type (EVP_PKEY_RSA, EVP_PKEY_EC...) of the pair loaded last.
int key_type(SSL_CTX* ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  EVP_PKEY* key = cert ? X509_get0_pubkey(cert) : nullptr;
  return key ? EVP_PKEY_get_base_id(key) : EVP_PKEY_NONE;
}

std::shared_ptr<ssl::context> build_tls_context(const ServerOptions& o, TlsStats* stats,
                                                const std::shared_ptr<TicketKeys>& memory_keys) {
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
  apply_cipher_suites(native, resolve_cipher_suites(o.tls_cipher_suites));
  boost::system::error_code ec;
  load_pair(*ctx, o.tls_certificate, o.tls_key);
  if (!o.tls_second_certificate.empty()) {
    // OpenSSL keeps one pair per key type: a second pair of the same type would replace the first.
    const int first = key_type(native);
    load_pair(*ctx, o.tls_second_certificate, o.tls_second_key);
    if (key_type(native) == first) {
      throw std::runtime_error(fmt::format(
          "TLS: certificate '{}' has the same key type as '{}' (the second pair must be of the "
          "other type, e.g. ECDSA beside RSA)",
          o.tls_second_certificate, o.tls_certificate));
    }
  }
  static const unsigned char kSessionContext[] = "onsen";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
  SSL_CTX_set_ex_data(native, stats_index(), stats);
  SSL_CTX_set_info_callback(native, on_handshake_step);
  SSL_CTX_set_cert_cb(native, on_certificate_needed, nullptr);
  if (!o.tls_ticket_keys.empty()) {
    TicketKeys::from_file(o.tls_ticket_keys)->install(native);
  } else if (memory_keys) {
    memory_keys->install(native);
  }

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

std::shared_ptr<ssl::context> make_tls_context(const ServerOptions& o, TlsStats* stats,
                                               std::shared_ptr<TicketKeys> memory_keys) {
  try {
    return build_tls_context(o, stats, memory_keys);
  } catch (...) {
    // Leave no error behind in this thread's queue: a later TLS operation on the same thread
    // would read it as its own.
    ERR_clear_error();
    throw;
  }
}

}  // namespace onsen::http::detail
