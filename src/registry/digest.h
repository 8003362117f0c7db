// Content digests ("sha256:<64 hex>", "sha512:<128 hex>") and a streaming hasher over OpenSSL EVP.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace onsen::registry {

class Digest {
 public:
  // Parses and validates "<algorithm>:<encoded>" by the OCI grammar. Returns nullopt for anything
  // malformed, and for algorithms other than sha256 and sha512 or encodings of the wrong length or
  // case (only lowercase hex is accepted).
  static std::optional<Digest> parse(std::string_view text);
  // Same as parse() but throws Error(kDigestInvalid).
  static Digest parse_or_throw(std::string_view text);
  // The digest whose raw bytes (a hash function's output) are md[0..n), hex-encoded. Throws
  // Error(kInternal) when n does not fit the algorithm.
  static Digest from_bytes(std::string_view algorithm, const unsigned char* md, size_t n);

  const std::string& algorithm() const { return algorithm_; }
  const std::string& hex() const { return hex_; }
  std::string str() const { return algorithm_ + ":" + hex_; }

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;

 private:
  Digest(std::string algorithm, std::string hex)
      : algorithm_(std::move(algorithm)), hex_(std::move(hex)) {}
  std::string algorithm_;
  std::string hex_;
};

// Incremental hasher for "sha256" or "sha512". Copyable (the state is duplicated), so an upload can
// keep a checkpoint. Not thread-safe.
class Hasher {
 public:
  explicit Hasher(std::string_view algorithm = "sha256");  // throws Error(kDigestInvalid)
  Hasher(const Hasher&);
  Hasher& operator=(const Hasher&);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Digest of everything so far; the hasher may continue to be updated afterwards.
  Digest digest() const;
  const std::string& algorithm() const { return algorithm_; }

 private:
  struct State;
  std::string algorithm_;
  std::unique_ptr<State> state_;
};

// sha256 (or the given algorithm) of a whole buffer.
Digest digest_of(std::string_view data, std::string_view algorithm = "sha256");

}  // namespace onsen::registry
