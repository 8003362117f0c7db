// Keys of TLS session tickets (stateless resumption: RFC 5077, TLS 1.3 PSK tickets). A client that
// comes back with a ticket skips the private-key signature of a full handshake; with an
// RSA-4096 certificate that is most of a handshake's cost.
//
// Two sources. A key file (http.tls.ticketkeys), shared by replicas behind one address so that a
// ticket from one is accepted by all: one or more 80-byte keys (16 bytes of name, 32 of HMAC-SHA256
// key, 32 of AES-256 key, as nginx's ssl_session_ticket_key), raw back to back or in base64
// (`openssl rand 80 > keys`, `openssl rand -base64 80 > keys`; several keys: one per line or
// concatenated). The first key encrypts new tickets, all of them decrypt, and a ticket under any
// key but the first is renewed. Rotation: put a new key first, drop the oldest later; the server
// re-reads the file when it changes (with the certificate files). Without a file: random keys in
// memory, a new one every `period`, the previous one still accepted for one more period, kept
// across certificate reloads.
//
// Thread safety: all members may be called concurrently (the ticket callback runs on any I/O
// thread).
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace onsen::http::detail {

class TicketKeys : public std::enable_shared_from_this<TicketKeys> {
 public:
  struct Key {
    std::array<unsigned char, 16> name;
    std::array<unsigned char, 32> hmac;
    std::array<unsigned char, 32> aes;
  };
  static constexpr size_t kKeySize = 80;

  // Throws std::runtime_error naming the file and what is wrong with it.
  static std::shared_ptr<TicketKeys> from_file(const std::string& path);
  // Parses a key file's contents (raw or base64); throws std::runtime_error with the reason.
  static std::vector<Key> parse(const std::string& bytes);
  // Random keys rotated every `period` (the clock is read when tickets are made).
  static std::shared_ptr<TicketKeys> rotating(std::chrono::seconds period);

  // The key new tickets are encrypted with.
  Key current();
  // The key named `name`, if it is still accepted; `renew`: the ticket should be replaced.
  std::optional<Key> find(const unsigned char* name, bool& renew);

  // Makes `ctx` issue and accept tickets under these keys (the context holds a reference).
  void install(SSL_CTX* ctx);

 private:
  void rotate_if_due();

  std::mutex mu_;
  std::vector<Key> keys_;                         // keys_[0] encrypts
  std::chrono::seconds period_{0};                // 0: fixed keys (from a file)
  std::chrono::steady_clock::time_point made_{};  // of keys_[0], when rotating
};

}  // namespace onsen::http::detail
