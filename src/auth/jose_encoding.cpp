#include "auth/jose_encoding.h"

#include <array>
#include <cstdint>

namespace onsen::auth {

namespace {

constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::array<int8_t, 256> reverse(std::string_view alphabet) {
  std::array<int8_t, 256> table;
  table.fill(-1);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  }
  return table;
}

// Decodes unpadded text of the 64-character `alphabet`. A length of 1 mod 4 cannot come from
// an encoder, and the unused low bits of the last character must be zero (Go's strict decoders
// used by Distribution refuse both as well).
std::optional<std::string> decode64(std::string_view text, std::string_view alphabet) {
  static const auto std_table = reverse(kBase64);
  static const auto url_table = reverse(kBase64Url);
  const auto& table = alphabet == kBase64 ? std_table : url_table;
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int8_t v = table[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  if ((bits & ((1u << count) - 1)) != 0) return std::nullopt;  // leftover bits must be zero
  return out;
}

std::string encode64(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(alphabet[(bits >> count) & 0x3f]);
    }
  }
  if (count > 0) out.push_back(alphabet[(bits << (6 - count)) & 0x3f]);
  if (pad) {
    while (out.size() % 4 != 0) out.push_back('=');
  }
  return out;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
  return decode64(text, kBase64Url);
}

std::string base64url_encode(std::string_view bytes) {
  return encode64(bytes, kBase64Url, false);
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  return decode64(text.substr(0, text.size() - padding), kBase64);
}

std::string base64_encode(std::string_view bytes) {
  return encode64(bytes, kBase64, true);
}

std::string base32_encode(std::string_view bytes) {
  std::string out;
  uint64_t bits = 0;
  int count = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 5) {
      count -= 5;
      out.push_back(kBase32[(bits >> count) & 0x1f]);
    }
  }
  if (count > 0) out.push_back(kBase32[(bits << (5 - count)) & 0x1f]);
  return out;
}

}  // namespace onsen::auth
