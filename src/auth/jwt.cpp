#include "auth/jwt.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "auth/jose_encoding.h"

namespace onsen::auth {

namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxTokenBytes = 64 * 1024;

// Go's json.Unmarshal leaves a field unset for JSON null and fails for a value of another type;
// these helpers do the same (false: the token is malformed).
bool read_string(const json& obj, const char* key, std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

bool read_string_list(const json& value, std::vector<std::string>& out) {
  if (value.is_null()) return true;
  if (!value.is_array()) return false;
  for (const auto& item : value) {
    if (!item.is_string()) return false;
    out.push_back(item.get<std::string>());
  }
  return true;
}

// A NumericDate: Go decodes into int64, so a fraction or a value out of range is an error there;
// Onsen accepts a fraction (RFC 7519 allows it) and truncates it, but nothing out of range.
bool read_time(const json& obj, const char* key, int64_t& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() && it->get<uint64_t>() > INT64_MAX) return false;
    out = it->get<int64_t>();
    return true;
  }
  if (it->is_number_float()) {
    double v = it->get<double>();
    if (!std::isfinite(v) || v > 9.2e18 || v < -9.2e18) return false;
    out = static_cast<int64_t>(v);
    return true;
  }
  return false;
}

bool read_header(const json& h, JwtHeader& out) {
  if (!h.is_object()) return false;
  if (!read_string(h, "alg", out.alg) || !read_string(h, "kid", out.kid)) return false;
  if (auto it = h.find("x5c"); it != h.end() && !read_string_list(*it, out.x5c)) return false;
  out.has_jwk = h.contains("jwk") && !h["jwk"].is_null();
  return true;
}

bool read_claims(const json& c, JwtClaims& out) {
  if (!c.is_object()) return false;
  if (!read_string(c, "iss", out.issuer) || !read_string(c, "sub", out.subject)) return false;
  if (auto it = c.find("aud"); it != c.end() && !it->is_null()) {
    if (it->is_string()) {
      out.audience.push_back(it->get<std::string>());
    } else if (!read_string_list(*it, out.audience)) {
      return false;
    }
  }
  if (!read_time(c, "exp", out.expiration) || !read_time(c, "nbf", out.not_before)) return false;
  if (auto it = c.find("access"); it != c.end() && !it->is_null()) {
    if (!it->is_array()) return false;
    for (const auto& entry : *it) {
      if (entry.is_null()) continue;  // a null pointer in Go's []*ResourceActions
      if (!entry.is_object()) return false;
      ResourceActions ra;
      if (!read_string(entry, "type", ra.type) || !read_string(entry, "name", ra.name)) {
        return false;
      }
      if (auto a = entry.find("actions"); a != entry.end() && !read_string_list(*a, ra.actions)) {
        return false;
      }
      out.access.push_back(std::move(ra));
    }
  }
  return true;
}

std::optional<json> decode_json(std::string_view part) {
  auto bytes = base64url_decode(part);
  if (!bytes) return std::nullopt;
  json value = json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Jwt> parse_jwt(std::string_view compact, std::string* why) {
  auto fail = [why](const char* reason) -> std::optional<Jwt> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (compact.size() > kMaxTokenBytes) return fail("token too large");
  std::size_t first = compact.find('.');
  if (first == std::string_view::npos) return fail("not three dot-separated parts");
  std::size_t second = compact.find('.', first + 1);
  if (second == std::string_view::npos || compact.find('.', second + 1) != std::string_view::npos) {
    return fail("not three dot-separated parts");
  }
  Jwt jwt;
  auto header = decode_json(compact.substr(0, first));
  if (!header || !read_header(*header, jwt.header)) return fail("malformed header");
  auto claims = decode_json(compact.substr(first + 1, second - first - 1));
  if (!claims || !read_claims(*claims, jwt.claims)) return fail("malformed claims");
  auto signature = base64url_decode(compact.substr(second + 1));
  if (!signature) return fail("malformed signature encoding");
  jwt.signature = std::move(*signature);
  jwt.signing_input = std::string(compact.substr(0, second));
  return jwt;
}

}  // namespace onsen::auth
