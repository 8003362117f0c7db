// The SHA256_* functions are deprecated in OpenSSL 3.0 but the only way to read and set the state
// (see resumable_sha256.h): this file asks for the 1.1.1 API, where they are not, before any
// OpenSSL header is seen.
#define OPENSSL_API_COMPAT 10101

#include "registry/resumable_sha256.h"

#include "registry/error.h"

#include <openssl/sha.h>

#include <cstring>

namespace onsen::registry {

namespace {

constexpr std::string_view kMagic{"sha\x03", 4};
constexpr size_t kBlock = SHA256_CBLOCK;  // 64
static_assert(ResumableSha256::kStateSize == kMagic.size() + 8 * 4 + kBlock + 8);

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_be(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

// OpenSSL's SHA256_CTX: h[8] (the chaining words), Nl/Nh (the length in *bits*, low and high 32
// bits), data (the unprocessed bytes, as bytes despite its type) and num (how many there are).
struct ResumableSha256::Ctx {
  SHA256_CTX c;
};

ResumableSha256::ResumableSha256() : ctx_(std::make_unique<Ctx>()) {
  if (SHA256_Init(&ctx_->c) != 1) throw Error(ErrorCode::kInternal, "openssl: SHA256_Init failed");
}

ResumableSha256::ResumableSha256(const ResumableSha256& other)
    : ctx_(std::make_unique<Ctx>(*other.ctx_)) {}

ResumableSha256& ResumableSha256::operator=(const ResumableSha256& other) {
  if (this != &other) ctx_ = std::make_unique<Ctx>(*other.ctx_);
  return *this;
}

ResumableSha256::ResumableSha256(ResumableSha256&&) noexcept = default;
ResumableSha256& ResumableSha256::operator=(ResumableSha256&&) noexcept = default;
ResumableSha256::~ResumableSha256() = default;

void ResumableSha256::update(const void* data, size_t n) {
  if (n > 0) SHA256_Update(&ctx_->c, data, n);
}

Digest ResumableSha256::digest() const {
  SHA256_CTX tmp = ctx_->c;  // finalise a copy so the live state can keep going
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &tmp);
  return Digest::from_bytes("sha256", md, sizeof md);
}

uint64_t ResumableSha256::length() const {
  return ((static_cast<uint64_t>(ctx_->c.Nh) << 32) | ctx_->c.Nl) >> 3;
}

std::string ResumableSha256::marshal() const {
  const SHA256_CTX& c = ctx_->c;
  std::string out(kMagic);
  out.reserve(kStateSize);
  for (SHA_LONG h : c.h) put_be(out, h, 4);
  out.append(reinterpret_cast<const char*>(c.data), c.num);
  out.append(kBlock - c.num, '\0');
  put_be(out, length(), 8);
  return out;
}

std::optional<ResumableSha256> ResumableSha256::unmarshal(std::string_view state) {
  if (state.size() != kStateSize || !state.starts_with(kMagic)) return std::nullopt;
  auto p = reinterpret_cast<const unsigned char*>(state.data()) + kMagic.size();
  ResumableSha256 out;
  SHA256_CTX& c = out.ctx_->c;
  for (SHA_LONG& h : c.h) {
    h = static_cast<SHA_LONG>(get_be(p, 4));
    p += 4;
  }
  const unsigned char* pending = p;
  p += kBlock;
  const uint64_t length = get_be(p, 8);
  if (length >> 61) return std::nullopt;  // more bits than SHA-256 counts
  const size_t num = length % kBlock;
  // Go writes zeros after the pending bytes: anything else is not a state it wrote.
  for (size_t i = num; i < kBlock; ++i) {
    if (pending[i] != 0) return std::nullopt;
  }
  std::memcpy(c.data, pending, num);
  c.num = static_cast<unsigned int>(num);
  c.Nl = static_cast<SHA_LONG>(length << 3);
  c.Nh = static_cast<SHA_LONG>(length >> 29);
  return out;
}

}  // namespace onsen::registry
