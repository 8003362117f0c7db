#include "registry/digest.h"

#include "registry/error.h"

#include <openssl/evp.h>

#include <new>
#include <stdexcept>
#include <utility>

namespace onsen::registry {

namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// algorithm-component (algorithm-separator algorithm-component)*
//   algorithm-component ::= [a-z0-9]+
//   algorithm-separator ::= [+._-]
bool valid_algorithm(std::string_view s) {
  bool need_component = true;  // at the start and right after a separator
  for (char c : s) {
    if (is_lower_alnum(c)) {
      need_component = false;
    } else if (c == '+' || c == '.' || c == '_' || c == '-') {
      if (need_component) return false;
      need_component = true;
    } else {
      return false;
    }
  }
  return !need_component;
}

// encoded ::= [a-zA-Z0-9=_-]+
bool valid_encoded(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '=' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

size_t hex_length(std::string_view algorithm) {
  if (algorithm == "sha256") return 64;
  if (algorithm == "sha512") return 128;
  return 0;
}

const EVP_MD* md_for(std::string_view algorithm) {
  if (algorithm == "sha256") return EVP_sha256();
  if (algorithm == "sha512") return EVP_sha512();
  return nullptr;
}

[[noreturn]] void openssl_failure(const char* what) {
  throw Error(ErrorCode::kInternal, std::string("openssl: ") + what + " failed");
}

}  // namespace

std::optional<Digest> Digest::parse(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view algorithm = text.substr(0, colon);
  std::string_view encoded = text.substr(colon + 1);
  if (!valid_algorithm(algorithm) || !valid_encoded(encoded)) return std::nullopt;
  size_t want = hex_length(algorithm);
  if (want == 0 || encoded.size() != want) return std::nullopt;
  for (char c : encoded) {
    if (!is_lower_hex(c)) return std::nullopt;
  }
  return Digest(std::string(algorithm), std::string(encoded));
}

Digest Digest::parse_or_throw(std::string_view text) {
  if (auto d = parse(text)) return std::move(*d);
  throw Error(ErrorCode::kDigestInvalid, "invalid digest " + quote_untrusted(text));
}

Digest Digest::from_bytes(std::string_view algorithm, const unsigned char* md, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text = std::string(algorithm) + ":";
  text.reserve(text.size() + 2 * n);
  for (size_t i = 0; i < n; ++i) {
    text += kHex[md[i] >> 4];
    text += kHex[md[i] & 0xf];
  }
  auto d = parse(text);
  if (!d) throw Error(ErrorCode::kInternal, "hasher produced an invalid digest");
  return std::move(*d);
}

// ---------------------------------------------------------------------------------------------
// Hasher

struct Hasher::State {
  EVP_MD_CTX* ctx = nullptr;

  State() : ctx(EVP_MD_CTX_new()) {
    if (ctx == nullptr) throw std::bad_alloc();
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() { EVP_MD_CTX_free(ctx); }

  static std::unique_ptr<State> clone(const State* other) {
    if (other == nullptr) return nullptr;
    auto s = std::make_unique<State>();
    if (EVP_MD_CTX_copy_ex(s->ctx, other->ctx) != 1) openssl_failure("EVP_MD_CTX_copy_ex");
    return s;
  }
};

Hasher::Hasher(std::string_view algorithm) : algorithm_(algorithm) {
  const EVP_MD* md = md_for(algorithm);
  if (md == nullptr) {
    throw Error(ErrorCode::kDigestInvalid,
                "unsupported digest algorithm " + quote_untrusted(algorithm));
  }
  state_ = std::make_unique<State>();
  if (EVP_DigestInit_ex(state_->ctx, md, nullptr) != 1) openssl_failure("EVP_DigestInit_ex");
}

Hasher::Hasher(const Hasher& other)
    : algorithm_(other.algorithm_), state_(State::clone(other.state_.get())) {}

Hasher& Hasher::operator=(const Hasher& other) {
  if (this != &other) {
    auto copy = State::clone(other.state_.get());  // may throw: leave *this untouched
    algorithm_ = other.algorithm_;
    state_ = std::move(copy);
  }
  return *this;
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::update(const void* data, size_t n) {
  if (!state_) throw std::logic_error("Hasher::update on a moved-from hasher");
  if (n == 0) return;
  if (EVP_DigestUpdate(state_->ctx, data, n) != 1) openssl_failure("EVP_DigestUpdate");
}

Digest Hasher::digest() const {
  if (!state_) throw std::logic_error("Hasher::digest on a moved-from hasher");
  // Finalise a copy so the live context can keep going.
  State tmp;
  if (EVP_MD_CTX_copy_ex(tmp.ctx, state_->ctx) != 1) openssl_failure("EVP_MD_CTX_copy_ex");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(tmp.ctx, md, &len) != 1) openssl_failure("EVP_DigestFinal_ex");
  return Digest::from_bytes(algorithm_, md, len);
}

Digest digest_of(std::string_view data, std::string_view algorithm) {
  Hasher h(algorithm);
  h.update(data);
  return h.digest();
}

}  // namespace onsen::registry
