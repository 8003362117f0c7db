// TicketKeys (see ticket_keys.h).
#include "http/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "base/watched_file.h"

namespace onsen::http::detail {

namespace {

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Whether `text` is base64 (whitespace and '=' padding allowed) rather than raw key bytes.
bool looks_base64(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return base64_value(c) >= 0 || c == '=' || is_space(c);
  });
}

// Decodes base64 in groups of four characters, whitespace ignored; a group may end in padding,
// and decoding goes on after it, so padded lines may simply follow each other.
std::string decode_base64(const std::string& text) {
  std::string out;
  int group[4];
  int n = 0, pad = 0;
  for (unsigned char c : text) {
    if (is_space(c)) continue;
    if (c == '=') {
      if (n < 2) throw std::runtime_error("bad base64 padding");
      group[n++] = 0;
      ++pad;
    } else {
      if (pad) throw std::runtime_error("bad base64 padding");
      group[n++] = base64_value(c);
    }
    if (n < 4) continue;
    unsigned v = (group[0] << 18) | (group[1] << 12) | (group[2] << 6) | group[3];
    out.push_back(static_cast<char>(v >> 16));
    if (pad < 2) out.push_back(static_cast<char>(v >> 8));
    if (pad < 1) out.push_back(static_cast<char>(v));
    n = pad = 0;
  }
  if (n != 0) throw std::runtime_error("base64 text ends in the middle of a group");
  return out;
}

TicketKeys::Key random_key() {
  TicketKeys::Key k{};
  if (RAND_bytes(k.name.data(), k.name.size()) != 1 ||
      RAND_bytes(k.hmac.data(), k.hmac.size()) != 1 ||
      RAND_bytes(k.aes.data(), k.aes.size()) != 1) {
    throw std::runtime_error("TLS: no random bytes for a session ticket key");
  }
  return k;
}

// SSL_CTX ex_data: a heap shared_ptr<TicketKeys>, freed with the context.
void free_keys(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::shared_ptr<TicketKeys>*>(ptr);
}
int keys_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_keys);
  return index;
}

// OpenSSL's ticket callback: 1 = done, 2 = decrypted but renew the ticket, 0 = unknown key (a
// full handshake follows), -1 = error.
int on_ticket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
              EVP_MAC_CTX* mac, int encrypt) {
  auto* keys = static_cast<std::shared_ptr<TicketKeys>*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keys_index()));
  if (!keys) return -1;
  std::optional<TicketKeys::Key> key;
  bool renew = false;
  if (encrypt) {
    key = (*keys)->current();
    std::memcpy(name, key->name.data(), key->name.size());
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
  } else {
    key = (*keys)->find(name, renew);
    if (!key) return 0;
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key->hmac.data(), key->hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const int ok = encrypt
                     ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv)
                     : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv);
  if (ok != 1) return -1;
  // A resumed TLS 1.3 session gets a new ticket only when we ask for one (2): its client used up
  // the old one (TLS 1.3 tickets are single-use in OpenSSL's client, RFC 8446 C.4), so without it
  // every second reconnect was a full handshake. TLS 1.2 tickets are renewed when the key is old.
  if (!encrypt && (renew || SSL_version(ssl) >= TLS1_3_VERSION)) return 2;
  return 1;
}

}  // namespace

std::vector<TicketKeys::Key> TicketKeys::parse(const std::string& bytes) {
  const auto expected = fmt::format("expected one or more {}-byte keys (raw or base64)", kKeySize);
  std::string raw = bytes;
  if (looks_base64(bytes)) {
    try {
      raw = decode_base64(bytes);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{}: {}", expected, e.what()));
    }
  }
  if (raw.empty() || raw.size() % kKeySize != 0) {
    throw std::runtime_error(fmt::format("{}, got {} bytes", expected, raw.size()));
  }
  std::vector<Key> keys(raw.size() / kKeySize);
  for (size_t i = 0; i < keys.size(); ++i) {
    const char* p = raw.data() + i * kKeySize;
    std::memcpy(keys[i].name.data(), p, 16);
    std::memcpy(keys[i].hmac.data(), p + 16, 32);
    std::memcpy(keys[i].aes.data(), p + 48, 32);
  }
  return keys;
}

std::shared_ptr<TicketKeys> TicketKeys::from_file(const std::string& path) {
  std::string bytes, error;
  base::FileStamp stamp;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error(fmt::format("TLS: session ticket keys '{}': {}", path, why));
  };
  if (!base::WatchedFile(path).read(bytes, stamp, error, 1 << 20)) fail(error);
  auto keys = std::make_shared<TicketKeys>();
  try {
    keys->keys_ = parse(bytes);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  return keys;
}

std::shared_ptr<TicketKeys> TicketKeys::rotating(std::chrono::seconds period) {
  auto keys = std::make_shared<TicketKeys>();
  keys->period_ = period;
  keys->keys_ = {random_key()};
  keys->made_ = std::chrono::steady_clock::now();
  return keys;
}

void TicketKeys::rotate_if_due() {
  if (period_.count() == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - made_ < period_) return;
  // The previous key stays for one period, longer than a session lives (OpenSSL's 2 h).
  keys_.insert(keys_.begin(), random_key());
  keys_.resize(2);
  made_ = now;
}

TicketKeys::Key TicketKeys::current() {
  std::lock_guard lock(mu_);
  rotate_if_due();
  return keys_.front();
}

std::optional<TicketKeys::Key> TicketKeys::find(const unsigned char* name, bool& renew) {
  std::lock_guard lock(mu_);
  rotate_if_due();
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (std::memcmp(keys_[i].name.data(), name, keys_[i].name.size()) == 0) {
      renew = i > 0;
      return keys_[i];
    }
  }
  return std::nullopt;
}

void TicketKeys::install(SSL_CTX* ctx) {
  SSL_CTX_set_ex_data(ctx, keys_index(), new std::shared_ptr<TicketKeys>(shared_from_this()));
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
}

}  // namespace onsen::http::detail
