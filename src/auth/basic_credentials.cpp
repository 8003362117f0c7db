#include "auth/basic_credentials.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <string>

namespace onsen::auth {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

// Strict standard base64. EVP_DecodeBlock decodes whole 4-character groups and counts '=' as
// zero bits, so the alphabet and the padding are checked here first and the padding bytes are
// subtracted from its result. Decodes into `out` (no moves that could leave copies behind).
bool decode_base64(std::string_view in, std::string& out) {
  std::size_t padding = 0;
  while (padding < 2 && padding < in.size() && in[in.size() - 1 - padding] == '=') ++padding;
  std::string_view body = in.substr(0, in.size() - padding);
  if (body.empty()) return false;
  for (char c : body) {
    if (!is_base64_char(c)) return false;  // also rejects '=' inside and a third '='
  }
  std::size_t remainder = body.size() % 4;
  if (remainder == 1) return false;                                    // 6 bits are no byte
  if (padding != 0 && (body.size() + padding) % 4 != 0) return false;  // wrong padding
  std::size_t missing = remainder == 0 ? 0 : 4 - remainder;  // padding to add back (0, 1 or 2)

  std::string padded(body);
  padded.append(missing, '=');
  out.assign(padded.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(padded.data()),
                          static_cast<int>(padded.size()));
  secure_wipe(padded);
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) {
    secure_wipe(out);
    return false;
  }
  out.resize(out.size() - missing);
  return true;
}

}  // namespace

void secure_wipe(std::string& s) {
  s.resize(s.capacity());
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

BasicCredentials::BasicCredentials(BasicCredentials&& other)
    : user(other.user), password(other.password) {  // copies: a move would leave SSO bytes behind
  secure_wipe(other.user);
  secure_wipe(other.password);
}

BasicCredentials& BasicCredentials::operator=(BasicCredentials&& other) {
  if (this != &other) {
    secure_wipe(user);
    secure_wipe(password);
    user = other.user;
    password = other.password;
    secure_wipe(other.user);
    secure_wipe(other.password);
  }
  return *this;
}

BasicCredentials::~BasicCredentials() {
  secure_wipe(user);
  secure_wipe(password);
}

std::optional<BasicCredentials> parse_basic_authorization(std::string_view header) {
  if (header.empty() || header.size() > kMaxAuthorizationHeader) return std::nullopt;
  while (!header.empty() && is_space(header.front())) header.remove_prefix(1);
  while (!header.empty() && is_space(header.back())) header.remove_suffix(1);

  std::size_t scheme_end = 0;
  while (scheme_end < header.size() && !is_space(header[scheme_end])) ++scheme_end;
  if (!iequals(header.substr(0, scheme_end), "basic")) return std::nullopt;
  std::size_t token_begin = scheme_end;
  while (token_begin < header.size() && is_space(header[token_begin])) ++token_begin;
  if (token_begin == scheme_end) return std::nullopt;  // "Basic" alone, or no separator

  std::string decoded;
  if (!decode_base64(header.substr(token_begin), decoded)) return std::nullopt;
  std::optional<BasicCredentials> credentials;
  auto colon = decoded.find(':');
  if (colon != std::string::npos && colon != 0 && decoded.find('\0') == std::string::npos) {
    credentials.emplace();
    credentials->user.assign(decoded, 0, colon);
    credentials->password.assign(decoded, colon + 1);
  }
  secure_wipe(decoded);
  return credentials;
}

}  // namespace onsen::auth
