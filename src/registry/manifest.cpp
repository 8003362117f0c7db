#include "registry/manifest.h"

#include "registry/error.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <utility>

namespace onsen::registry {

namespace {

using json = nlohmann::json;

constexpr int kMaxDepth = 64;

constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
constexpr std::string_view kOciImageConfig = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view kDockerImageConfig = "application/vnd.docker.container.image.v1+json";

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::kManifestInvalid, message);
}

// True when the bracket nesting of `body` (outside strings) never exceeds kMaxDepth. Runs before
// the JSON parser so hostile input costs one linear scan; for valid JSON it is exact.
bool depth_ok(std::string_view body) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// Parses `body` as JSON; nullopt-like `discarded` value on any error (never throws).
json parse_json_quiet(std::string_view body) {
  if (!depth_ok(body)) return json(json::value_t::discarded);
  return json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Content-Type without parameters and surrounding whitespace, type/subtype lowercased
// (RFC 9110: they are case-insensitive).
std::string normalize_content_type(std::string_view ct) {
  size_t semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && is_space(ct.front())) ct.remove_prefix(1);
  while (!ct.empty() && is_space(ct.back())) ct.remove_suffix(1);
  std::string out(ct);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Content-Types that say nothing about which manifest this is; treated like no Content-Type.
bool is_generic_content_type(std::string_view ct) {
  return ct.empty() || ct == "application/json" || ct == "application/octet-stream";
}

bool is_supported(std::string_view mt) {
  return mt == media_type::kDockerManifest || mt == media_type::kDockerManifestList ||
         mt == media_type::kOciManifest || mt == media_type::kOciIndex ||
         mt == media_type::kOciArtifact;
}

std::string_view guess_media_type(const json& obj) {
  return obj.contains("manifests") ? media_type::kOciIndex : media_type::kOciManifest;
}

// A media type or artifact type: a non-empty string without control characters.
bool plausible_type(const std::string& s) {
  if (s.empty() || s.size() > 255) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string field(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

std::string indexed(std::string_view name, size_t i) {
  return std::string(name) + "[" + std::to_string(i) + "]";
}

const json* find(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string required_type_string(const json& obj, const char* key, const std::string& path) {
  const json* v = find(obj, key);
  if (v == nullptr) invalid(field(path, key) + ": missing");
  if (!v->is_string()) invalid(field(path, key) + ": must be a string");
  const auto& s = v->get_ref<const std::string&>();
  if (!plausible_type(s)) invalid(field(path, key) + ": invalid media type");
  return s;
}

std::string optional_type_string(const json& obj, const char* key, const std::string& path) {
  const json* v = find(obj, key);
  if (v == nullptr) return "";
  if (!v->is_string()) invalid(field(path, key) + ": must be a string");
  const auto& s = v->get_ref<const std::string&>();
  if (!plausible_type(s)) invalid(field(path, key) + ": invalid media type");
  return s;
}

std::string annotations_of(const json& obj, const std::string& path) {
  const json* v = find(obj, "annotations");
  if (v == nullptr || v->is_null()) return "";
  if (!v->is_object()) invalid(field(path, "annotations") + ": must be an object");
  for (const auto& [key, value] : v->items()) {
    if (!value.is_string()) {
      invalid(field(path, "annotations") + ": value of " + quote_untrusted(key) +
              " must be a string");
    }
  }
  return v->dump();
}

Descriptor parse_descriptor(const json& v, const std::string& path) {
  if (!v.is_object()) invalid(path + ": must be an object");
  std::string mt = required_type_string(v, "mediaType", path);

  const json* d = find(v, "digest");
  if (d == nullptr) invalid(field(path, "digest") + ": missing");
  if (!d->is_string()) invalid(field(path, "digest") + ": invalid digest");
  auto digest = Digest::parse(d->get_ref<const std::string&>());
  if (!digest) invalid(field(path, "digest") + ": invalid digest");

  const json* s = find(v, "size");
  if (s == nullptr) invalid(field(path, "size") + ": missing");
  int64_t size = -1;
  if (s->is_number_unsigned()) {
    auto u = s->get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      size = static_cast<int64_t>(u);
    }
  } else if (s->is_number_integer()) {
    size = s->get<int64_t>();
  }
  if (size < 0) invalid(field(path, "size") + ": must be a non-negative integer");

  Descriptor desc{std::move(mt), std::move(*digest), size, "", "", false};
  desc.artifact_type = optional_type_string(v, "artifactType", path);
  desc.annotations_json = annotations_of(v, path);
  if (const json* urls = find(v, "urls"); urls != nullptr && !urls->is_null()) {
    if (!urls->is_array()) invalid(field(path, "urls") + ": must be an array");
    for (size_t i = 0; i < urls->size(); ++i) {
      if (!(*urls)[i].is_string()) invalid(indexed(field(path, "urls"), i) + ": must be a string");
    }
    desc.has_urls = !urls->empty();
  }
  return desc;
}

std::vector<Descriptor> parse_descriptor_array(const json& obj, const char* key, bool required) {
  std::vector<Descriptor> out;
  const json* v = find(obj, key);
  if (v == nullptr || (!required && v->is_null())) {
    if (required) invalid(std::string(key) + ": missing");
    return out;
  }
  if (!v->is_array()) invalid(std::string(key) + ": must be an array");
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) out.push_back(parse_descriptor((*v)[i], indexed(key, i)));
  return out;
}

std::optional<Descriptor> parse_subject(const json& obj) {
  const json* v = find(obj, "subject");
  if (v == nullptr || v->is_null()) return std::nullopt;
  return parse_descriptor(*v, "subject");
}

void require_schema_version_2(const json& obj) {
  const json* v = find(obj, "schemaVersion");
  if (v == nullptr) invalid("schemaVersion: missing");
  if (v->is_number_integer() && v->get<int64_t>() == 2) return;
  if (v->is_number_integer() && v->get<int64_t>() == 1) {
    invalid("schema1 manifests are not supported");
  }
  invalid("schemaVersion: must be 2");
}

}  // namespace

Manifest parse_manifest(std::string_view body, std::string_view content_type) {
  if (!depth_ok(body)) {
    invalid("manifest JSON is nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  json doc;
  try {
    doc = json::parse(body.begin(), body.end());
  } catch (const json::parse_error& e) {
    // e.what() may quote raw input bytes; report only the position.
    invalid("manifest is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception&) {
    // Not a parse_error: a number beyond double range ("size": 1e400) is out_of_range.
    invalid("manifest holds a number out of range");
  }
  if (!doc.is_object()) invalid("manifest must be a JSON object");

  // Resolve the media type: Content-Type, else the body's "mediaType", else a guess.
  std::string ct = normalize_content_type(content_type);
  if (is_generic_content_type(ct)) ct.clear();
  std::string body_mt;
  bool has_body_mt = false;
  if (const json* v = find(doc, "mediaType"); v != nullptr) {
    if (!v->is_string()) invalid("mediaType: must be a string");
    body_mt = v->get<std::string>();
    has_body_mt = true;
  }
  if (!ct.empty() && has_body_mt && body_mt != ct) invalid("mediaType does not match Content-Type");

  Manifest m;
  m.media_type = !ct.empty() ? ct : has_body_mt ? body_mt : std::string(guess_media_type(doc));

  if (m.media_type == kDockerSchema1 || m.media_type == kDockerSchema1Signed) {
    invalid("schema1 manifests are not supported");
  }
  if (!is_supported(m.media_type))
    invalid("unsupported manifest media type " + quote_untrusted(m.media_type));

  const bool docker = m.media_type == media_type::kDockerManifest ||
                      m.media_type == media_type::kDockerManifestList;
  if (docker && !has_body_mt) invalid("mediaType: missing (required for Docker manifests)");
  if (m.media_type == media_type::kOciArtifact && !has_body_mt) {
    invalid("mediaType: missing (required for artifact manifests)");
  }
  // A stored manifest is served with detect_media_type(), which has only the body to go on: a body
  // without "mediaType" must not guess differently from the Content-Type it was pushed with.
  if (!has_body_mt && m.media_type != guess_media_type(doc)) {
    invalid("mediaType: missing, and the body looks like " + std::string(guess_media_type(doc)));
  }

  if (m.media_type == media_type::kOciArtifact) {
    m.kind = ManifestKind::kArtifact;
    m.artifact_type = required_type_string(doc, "artifactType", "");
    m.blobs = parse_descriptor_array(doc, "blobs", /*required=*/false);
    m.subject = parse_subject(doc);
  } else if (m.media_type == media_type::kOciIndex ||
             m.media_type == media_type::kDockerManifestList) {
    m.kind = ManifestKind::kIndex;
    require_schema_version_2(doc);
    m.manifests = parse_descriptor_array(doc, "manifests", /*required=*/true);
    if (!docker) {
      m.artifact_type = optional_type_string(doc, "artifactType", "");
      m.subject = parse_subject(doc);
    }
  } else {
    m.kind = ManifestKind::kImage;
    require_schema_version_2(doc);
    const json* config = find(doc, "config");
    if (config == nullptr || config->is_null()) invalid("config: missing");
    m.config = parse_descriptor(*config, "config");
    m.blobs = parse_descriptor_array(doc, "layers", /*required=*/true);
    if (!docker) {
      m.artifact_type = optional_type_string(doc, "artifactType", "");
      m.subject = parse_subject(doc);
    }
    // OCI 1.1 referrers rule: without artifactType, the config's media type names the artifact.
    if (m.artifact_type.empty()) m.artifact_type = m.config->media_type;
  }
  m.annotations_json = annotations_of(doc, "");
  return m;
}

std::string detect_media_type(std::string_view body) {
  try {
    json doc = parse_json_quiet(body);
    if (!doc.is_object()) return std::string(media_type::kOciManifest);
    if (const json* v = find(doc, "mediaType"); v != nullptr && v->is_string()) {
      const auto& mt = v->get_ref<const std::string&>();
      if (is_supported(mt)) return mt;
    }
    return std::string(guess_media_type(doc));
  } catch (...) {
    return std::string(media_type::kOciManifest);
  }
}

}  // namespace onsen::registry
