// SHA-256 whose state can be saved and restored in Go's crypto/sha256 MarshalBinary format, the
// format of Distribution's `_uploads/<id>/hashstates/sha256/<offset>` files:
//
//   "sha\x03" | h[0..7] as big-endian uint32 | the unprocessed bytes (length % 64 of them),
//   zero-padded to 64 | the length in bytes as big-endian uint64        (108 bytes)
//
// so an upload started by Onsen can be finished by Distribution and the other way round, and a
// replica continues an upload another one started without reading it again.
//
// Only the upload path needs this: everything else hashes with Hasher (EVP). This class is over
// OpenSSL's low-level SHA256_CTX, the only SHA-256 state OpenSSL lets a caller read and set
// (EVP's is inside the provider); deprecated since 3.0 but present, and it runs the same
// assembly (SHA-NI where the CPU has it) as EVP's sha256.
#pragma once

#include "registry/digest.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace onsen::registry {

class ResumableSha256 {
 public:
  static constexpr size_t kStateSize = 108;

  ResumableSha256();
  ResumableSha256(const ResumableSha256&);
  ResumableSha256& operator=(const ResumableSha256&);
  ResumableSha256(ResumableSha256&&) noexcept;
  ResumableSha256& operator=(ResumableSha256&&) noexcept;
  ~ResumableSha256();

  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Digest of everything so far; the hasher may continue to be updated afterwards.
  Digest digest() const;
  // Bytes hashed so far.
  uint64_t length() const;

  // The state in Go's format (kStateSize bytes).
  std::string marshal() const;
  // The state marshal() wrote; nullopt for anything that is not one (another algorithm's magic,
  // a wrong size, non-zero padding). A well-formed state with damaged words cannot be told from
  // a good one: callers compare length() with what they expect, and the digest is checked at
  // the end anyway.
  static std::optional<ResumableSha256> unmarshal(std::string_view state);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace onsen::registry
