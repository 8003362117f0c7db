// htpasswd files as Distribution's `auth: htpasswd` provider reads them (`htpasswd -Bbn user
// pass`), and bcrypt verification.
//
// Format: one `user:hash` per line; surrounding whitespace (and a trailing CR) is trimmed; blank
// lines and lines starting with '#' are skipped; the user is everything before the first ':'.
// Only bcrypt hashes ($2y$, $2b$, $2a$) are accepted, as in Distribution. Every other line (MD5
// $apr1$, {SHA}, crypt(3), plain text, no ':', empty user, malformed bcrypt) is refused with a
// warning that names the line number and the user, never the hash. If a user appears twice the
// first entry wins and the later one is refused with a warning (Distribution keeps the last; first
// wins here so that an appended line cannot silently override a reviewed one).
//
// Thread-safety: an HtpasswdFile is immutable after parse(), so it may be shared freely;
// verify_bcrypt() is thread-safe (crypt_rn with per-call state).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace onsen::auth {

// True for a well-formed bcrypt hash: "$2y$", "$2b$" or "$2a$", a two-digit cost 04..31, '$', and
// 53 characters of bcrypt's base64 alphabet (22 of salt, 31 of hash) — 60 characters in all.
bool is_bcrypt_hash(std::string_view hash);

// The cost (log2 rounds) of a well-formed bcrypt hash, or 0 if `hash` is not one.
int bcrypt_cost(std::string_view hash);

// Runs bcrypt over `password` with the salt and cost taken from `hash` (libxcrypt crypt_rn, state
// on the heap: thread-safe) and compares the result with `hash` in constant time (lengths first,
// then CRYPTO_memcmp). False on any error, for passwords containing a NUL byte, and for a `hash`
// that is only a setting (as bcrypt_setting() returns): that still costs a full bcrypt, which is
// how unknown users are answered in the same time as known ones. bcrypt reads at most 72 bytes of
// the password (as in Go's x/crypto/bcrypt). Cost: 2^cost rounds, i.e. milliseconds.
bool verify_bcrypt(std::string_view password, std::string_view hash);

// A fresh "$2b$<cost>$<22 random salt chars>" setting from crypt_gensalt_rn (OS randomness).
// Throws std::runtime_error if libcrypt cannot produce one.
std::string bcrypt_setting(int cost);

// The longest password bcrypt reads: it ignores every byte after the 72nd.
inline constexpr std::size_t kBcryptMaxPassword = 72;

// A fresh "$2y$" bcrypt hash of `password` at `cost` (4..31) with a random salt: what
// `htpasswd -B` writes, accepted by Apache, Distribution (Go's x/crypto/bcrypt) and
// verify_bcrypt(). Throws std::invalid_argument for a cost out of range, a password longer than
// kBcryptMaxPassword (bcrypt would silently ignore the rest) or one containing a NUL byte, and
// std::runtime_error if libcrypt fails.
std::string bcrypt_hash(std::string_view password, int cost);

class HtpasswdFile {
 public:
  struct Entry {
    std::string hash;  // a well-formed bcrypt hash
    std::size_t line;  // 1-based line number in the file
  };

  HtpasswdFile() = default;

  // Parses the contents of an htpasswd file. Never throws on bad content: every refused line adds
  // a message to warnings() instead.
  static HtpasswdFile parse(std::string_view text);

  // The entry for `user` (exact, case-sensitive match), or nullptr.
  const Entry* find(std::string_view user) const;
  std::size_t size() const { return entries_.size(); }
  // One message per refused line, e.g. "line 3: user 'bob': unsupported hash format (MD5 $apr1$)
  // ...". Safe to log: no hash, user names escaped.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // The most common bcrypt cost among the entries (5, htpasswd's default, if there are none): the
  // cost of the dummy verification run for unknown users.
  int typical_cost() const { return typical_cost_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> entries_;
  std::vector<std::string> warnings_;
  int typical_cost_ = 5;
};

}  // namespace onsen::auth
