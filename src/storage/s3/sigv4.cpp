#include "storage/s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>
#include <vector>

namespace onsen::storage::s3 {
namespace {

std::string hex(const unsigned char* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xf];
  }
  return out;
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len)) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string trim(std::string_view v) {
  // Leading/trailing spaces go, inner runs of spaces become one (the canonical header value).
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::map<std::string, std::string> canonical_headers(const SigningInput& in) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : in.headers) out[lower(name)] = trim(value);
  return out;
}

std::string signed_headers(const std::map<std::string, std::string>& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

std::string scope(const Credentials& creds, const SigningInput& in) {
  return std::string(in.amz_date.substr(0, 8)) + "/" + creds.region + "/" + creds.service +
         "/aws4_request";
}

}  // namespace

std::string uri_encode(std::string_view s, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || (c == '/' && !encode_slash)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string canonical_query(const std::multimap<std::string, std::string>& query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& [k, v] : query) pairs.emplace_back(uri_encode(k, true), uri_encode(v, true));
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

std::string canonical_request(const SigningInput& in) {
  auto headers = canonical_headers(in);
  std::string out(in.method);
  out += '\n';
  out += in.encoded_path.empty() ? std::string_view("/") : in.encoded_path;
  out += '\n';
  if (in.query) out += canonical_query(*in.query);
  out += '\n';
  for (const auto& [name, value] : headers) out += name + ":" + value + "\n";
  out += '\n';
  out += signed_headers(headers);
  out += '\n';
  out += in.payload_hash;
  return out;
}

std::string string_to_sign(const Credentials& creds, const SigningInput& in) {
  return "AWS4-HMAC-SHA256\n" + std::string(in.amz_date) + "\n" + scope(creds, in) + "\n" +
         sha256_hex(canonical_request(in));
}

std::string signature(const Credentials& creds, const SigningInput& in) {
  std::string key = hmac("AWS4" + creds.secret_key, in.amz_date.substr(0, 8));
  key = hmac(key, creds.region);
  key = hmac(key, creds.service);
  key = hmac(key, "aws4_request");
  std::string sig = hmac(key, string_to_sign(creds, in));
  return hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

std::string authorization(const Credentials& creds, const SigningInput& in) {
  return "AWS4-HMAC-SHA256 Credential=" + creds.access_key + "/" + scope(creds, in) +
         ", SignedHeaders=" + signed_headers(canonical_headers(in)) +
         ", Signature=" + signature(creds, in);
}

std::string presigned_query(const Credentials& creds, std::string_view method,
                            std::string_view encoded_path, std::string_view host,
                            std::string_view amz_date, uint64_t expires_seconds) {
  std::multimap<std::string, std::string> query{
      {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
      {"X-Amz-Date", std::string(amz_date)},
      {"X-Amz-Expires", std::to_string(expires_seconds)},
      {"X-Amz-SignedHeaders", "host"},
  };
  if (!creds.session_token.empty()) query.emplace("X-Amz-Security-Token", creds.session_token);
  SigningInput in{method,  encoded_path, &query, {{"host", std::string(host)}}, "UNSIGNED-PAYLOAD",
                  amz_date};
  query.emplace("X-Amz-Credential", creds.access_key + "/" + scope(creds, in));
  const std::string sig = signature(creds, in);
  // The signature is not part of what it signs: appended last.
  return canonical_query(query) + "&X-Amz-Signature=" + sig;
}

std::string sha256_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr)) {
    throw std::runtime_error("SHA-256 failed");
  }
  return hex(out, len);
}

std::string amz_date_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace onsen::storage::s3
