#include "auth/htpasswd.h"

#include <crypt.h>
#include <openssl/crypto.h>

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "auth/basic_credentials.h"
#include "auth/log_text.h"

namespace onsen::auth {
namespace {

constexpr std::size_t kBcryptLength = 60;  // "$2y$10$" + 22 salt + 31 hash

bool is_bcrypt_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/';
}

bool has_bcrypt_prefix(std::string_view hash) {
  return hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$");
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  auto begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// Names the format of a refused hash for the warning, without quoting any of it.
std::string_view describe_format(std::string_view hash) {
  if (hash.empty()) return "empty password field";
  if (has_bcrypt_prefix(hash)) return "malformed bcrypt hash";
  if (hash.starts_with("$2x$")) return "bcrypt $2x$ (buggy variant)";
  if (hash.starts_with("$apr1$")) return "MD5 $apr1$";
  if (hash.starts_with("{SHA}")) return "SHA-1 {SHA}";
  if (hash.starts_with("$1$")) return "MD5-crypt $1$";
  if (hash.starts_with("$5$")) return "SHA-256-crypt $5$";
  if (hash.starts_with("$6$")) return "SHA-512-crypt $6$";
  if (hash.starts_with("$")) return "unknown crypt scheme";
  if (hash.size() == 13) return "DES crypt or plain text";
  return "plain text or unknown";
}

// A fresh bcrypt setting ("<prefix><cost>$<22 salt chars>") from crypt_gensalt_rn, which takes its
// randomness from the OS (getrandom).
std::string gensalt(const char* prefix, int cost) {
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> out{};
  if (crypt_gensalt_rn(prefix, static_cast<unsigned long>(cost), nullptr, 0, out.data(),
                       static_cast<int>(out.size())) == nullptr) {
    throw std::runtime_error(fmt::format("crypt_gensalt_rn failed for bcrypt cost {}", cost));
  }
  return out.data();
}

}  // namespace

bool is_bcrypt_hash(std::string_view hash) {
  if (hash.size() != kBcryptLength || !has_bcrypt_prefix(hash)) return false;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9' || hash[6] != '$') {
    return false;
  }
  int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (char c : hash.substr(7)) {
    if (!is_bcrypt_char(c)) return false;
  }
  return true;
}

int bcrypt_cost(std::string_view hash) {
  if (!is_bcrypt_hash(hash)) return 0;
  return (hash[4] - '0') * 10 + (hash[5] - '0');
}

bool verify_bcrypt(std::string_view password, std::string_view hash) {
  if (password.find('\0') != std::string_view::npos) return false;
  if (password.size() >= CRYPT_MAX_PASSPHRASE_SIZE) return false;
  if (hash.size() >= CRYPT_OUTPUT_SIZE || hash.find('\0') != std::string_view::npos) return false;
  // crypt_rn wants NUL-terminated strings; struct crypt_data is ~32 KiB, too big for small stacks.
  std::string phrase(password);
  std::string setting(hash);
  auto data = std::make_unique<crypt_data>();  // value-initialized: all zero, as crypt_rn requires
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  bool ok = false;
  if (out != nullptr && out[0] != '*') {
    std::size_t n = std::strlen(out);
    // Constant time: the length is public (bcrypt output is always 60 bytes), the bytes are not.
    ok = n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
  }
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  secure_wipe(phrase);
  return ok;
}

std::string bcrypt_setting(int cost) {
  return gensalt("$2b$", cost);
}

std::string bcrypt_hash(std::string_view password, int cost) {
  if (cost < 4 || cost > 31) {
    throw std::invalid_argument(fmt::format("bcrypt cost {} is out of range (4 to 31)", cost));
  }
  if (password.size() > kBcryptMaxPassword) {
    throw std::invalid_argument(
        fmt::format("password too long: bcrypt uses only the first {} bytes", kBcryptMaxPassword));
  }
  if (password.find('\0') != std::string_view::npos) {
    throw std::invalid_argument("password contains a NUL byte");
  }
  std::string setting = gensalt("$2y$", cost);
  std::string phrase(password);
  auto data = std::make_unique<crypt_data>();  // value-initialized: all zero, as crypt_rn requires
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  std::string hash = out != nullptr && out[0] != '*' ? out : "";
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  secure_wipe(phrase);
  if (!is_bcrypt_hash(hash)) throw std::runtime_error("crypt_rn failed to produce a bcrypt hash");
  return hash;
}

HtpasswdFile HtpasswdFile::parse(std::string_view text) {
  HtpasswdFile file;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM from some editors
  std::map<int, std::size_t> costs;
  std::size_t line_number = 0;
  while (!text.empty() || line_number == 0) {
    ++line_number;
    auto eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;

    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      // The line may be anything, a password included: quote none of it.
      file.warnings_.push_back(fmt::format("line {}: no ':' separator; line ignored", line_number));
      continue;
    }
    std::string_view user = line.substr(0, colon);
    std::string_view hash = line.substr(colon + 1);
    if (user.empty()) {
      file.warnings_.push_back(fmt::format("line {}: empty user name; line ignored", line_number));
      continue;
    }
    if (!is_bcrypt_hash(hash)) {
      file.warnings_.push_back(
          fmt::format("line {}: user '{}': unsupported password hash ({}); only bcrypt is accepted "
                      "(create entries with htpasswd -B); line ignored",
                      line_number, loggable(user), describe_format(hash)));
      continue;
    }
    if (const Entry* first = file.find(user)) {
      file.warnings_.push_back(
          fmt::format("line {}: user '{}': duplicate of line {}; the first entry wins", line_number,
                      loggable(user), first->line));
      continue;
    }
    file.entries_.emplace(std::string(user), Entry{std::string(hash), line_number});
    ++costs[bcrypt_cost(hash)];
  }
  std::size_t best = 0;
  for (auto [cost, count] : costs) {
    if (count > best) {  // ties: the lower cost (std::map iterates in ascending order)
      best = count;
      file.typical_cost_ = cost;
    }
  }
  return file;
}

const HtpasswdFile::Entry* HtpasswdFile::find(std::string_view user) const {
  auto it = entries_.find(user);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace onsen::auth
