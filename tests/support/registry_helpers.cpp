#include "support/registry_helpers.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <random>

namespace onsen::test {

namespace {

std::string hex_digest(std::string_view data, const EVP_MD* md, std::string_view algorithm) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, md, nullptr);
  EVP_DigestUpdate(ctx, data.data(), data.size());
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  EVP_MD_CTX_free(ctx);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(algorithm);
  s += ':';
  for (unsigned i = 0; i < len; ++i) {
    s += kHex[out[i] >> 4];
    s += kHex[out[i] & 15];
  }
  return s;
}

const std::vector<std::string>& oci_codes() {
  static const std::vector<std::string> codes = {"BLOB_UNKNOWN",
                                                 "BLOB_UPLOAD_INVALID",
                                                 "BLOB_UPLOAD_UNKNOWN",
                                                 "DIGEST_INVALID",
                                                 "MANIFEST_BLOB_UNKNOWN",
                                                 "MANIFEST_INVALID",
                                                 "MANIFEST_UNKNOWN",
                                                 "MANIFEST_UNVERIFIED",
                                                 "NAME_INVALID",
                                                 "NAME_UNKNOWN",
                                                 "SIZE_INVALID",
                                                 "TAG_INVALID",
                                                 "UNAUTHORIZED",
                                                 "DENIED",
                                                 "UNSUPPORTED"};
  return codes;
}

}  // namespace

std::string sha256_digest(std::string_view data) {
  return hex_digest(data, EVP_sha256(), "sha256");
}

std::string sha512_digest(std::string_view data) {
  return hex_digest(data, EVP_sha512(), "sha512");
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& ch : s) ch = static_cast<char>(gen() & 0xff);
  return s;
}

std::string to_body(const json& j) {
  return j.dump(1, '\t');
}

json parse_json(const std::string& body) {
  return json::parse(body, nullptr, /*allow_exceptions=*/false);
}

json descriptor(std::string_view media_type, std::string_view digest, size_t size) {
  return json{{"mediaType", media_type}, {"digest", digest}, {"size", size}};
}

json descriptor_of(std::string_view media_type, std::string_view content) {
  return descriptor(media_type, sha256_digest(content), content.size());
}

std::string blob_path(const std::string& repo, const std::string& digest) {
  return "/v2/" + repo + "/blobs/" + digest;
}

std::string manifest_path(const std::string& repo, const std::string& ref) {
  return "/v2/" + repo + "/manifests/" + ref;
}

std::string uploads_path(const std::string& repo) {
  return "/v2/" + repo + "/blobs/uploads/";
}

HttpResponse start_upload(HttpClient& c, const std::string& repo) {
  return c.post(uploads_path(repo));
}

std::string push_blob(HttpClient& c, const std::string& repo, const std::string& data) {
  const std::string digest = sha256_digest(data);
  auto r = start_upload(c, repo);
  if (r.status != 202 || !r.has_header("Location")) {
    ADD_FAILURE() << "POST upload in " << repo << " failed:\n" << r.describe();
    return digest;
  }
  auto put = c.put(add_query(relative_target(*r.header("Location")), "digest", digest), data,
                   {{"Content-Type", "application/octet-stream"}});
  if (put.status != 201) {
    ADD_FAILURE() << "PUT blob " << digest << " in " << repo << " failed:\n" << put.describe();
  }
  return digest;
}

HttpResponse push_manifest(HttpClient& c, const std::string& repo, const std::string& ref,
                           const std::string& media_type, const std::string& body) {
  HeaderList headers;
  if (!media_type.empty()) headers.emplace_back("Content-Type", media_type);
  return c.put(manifest_path(repo, ref), body, std::move(headers));
}

HttpResponse get_manifest(HttpClient& c, const std::string& repo, const std::string& ref) {
  return c.get(manifest_path(repo, ref), {{"Accept", kAcceptAllManifests}});
}

HttpResponse head_manifest(HttpClient& c, const std::string& repo, const std::string& ref) {
  return c.head(manifest_path(repo, ref), {{"Accept", kAcceptAllManifests}});
}

Image make_image(HttpClient& c, const std::string& repo, uint32_t seed) {
  Image img;
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"author", "onsen-e2e-" + std::to_string(seed)},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
  img.config = to_body(config);
  img.layer = random_bytes(512 + seed % 97, seed);
  img.config_digest = push_blob(c, repo, img.config);
  img.layer_digest = push_blob(c, repo, img.layer);
  json m = {
      {"schemaVersion", 2},
      {"mediaType", mt::kOciManifest},
      {"config", descriptor(mt::kOciConfig, img.config_digest, img.config.size())},
      {"layers", json::array({descriptor(mt::kOciLayer, img.layer_digest, img.layer.size())})}};
  img.manifest = to_body(m);
  img.digest = sha256_digest(img.manifest);
  return img;
}

Image push_image(HttpClient& c, const std::string& repo, const std::string& ref, uint32_t seed) {
  Image img = make_image(c, repo, seed);
  auto r = push_manifest(c, repo, ref.empty() ? img.digest : ref, mt::kOciManifest, img.manifest);
  if (r.status != 201) {
    ADD_FAILURE() << "PUT manifest " << repo << ":" << ref << " failed:\n" << r.describe();
  }
  return img;
}

std::string error_code(const HttpResponse& r) {
  json j = parse_json(r.body);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty()) {
    return "";
  }
  const json& e = j["errors"][0];
  if (!e.is_object() || !e.contains("code") || !e["code"].is_string()) return "";
  return e["code"].get<std::string>();
}

::testing::AssertionResult IsOciError(const HttpResponse& r, unsigned status,
                                      std::string_view code) {
  if (r.status != status) {
    return ::testing::AssertionFailure()
           << "expected status " << status << " (" << code << "), got:\n"
           << r.describe();
  }
  json j = parse_json(r.body);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty()) {
    return ::testing::AssertionFailure() << "expected an OCI error body {\"errors\":[...]}, got:\n"
                                         << r.describe();
  }
  for (const auto& e : j["errors"]) {
    if (!e.is_object() || !e.contains("code") || !e["code"].is_string()) {
      return ::testing::AssertionFailure() << "error entry without a string code:\n"
                                           << r.describe();
    }
    if (e.contains("message") && !e["message"].is_string()) {
      return ::testing::AssertionFailure() << "error message is not a string:\n" << r.describe();
    }
  }
  if (!code.empty() && j["errors"][0]["code"] != code) {
    return ::testing::AssertionFailure() << "expected error code " << code << ", got:\n"
                                         << r.describe();
  }
  auto ct = r.header_or_empty("Content-Type");
  if (ct.rfind("application/json", 0) != 0) {
    return ::testing::AssertionFailure() << "error body Content-Type is not application/json:\n"
                                         << r.describe();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsOciClientError(const HttpResponse& r) {
  if (r.status < 400 || r.status >= 500) {
    return ::testing::AssertionFailure() << "expected a 4xx, got:\n" << r.describe();
  }
  auto res = IsOciError(r, r.status, "");
  if (!res) return res;
  const auto code = error_code(r);
  const auto& codes = oci_codes();
  if (std::find(codes.begin(), codes.end(), code) == codes.end()) {
    return ::testing::AssertionFailure() << "error code " << code << " is not an OCI code:\n"
                                         << r.describe();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult HeaderIs(const HttpResponse& r, std::string_view name,
                                    std::string_view value) {
  auto v = r.header(name);
  if (!v) {
    return ::testing::AssertionFailure()
           << "missing header " << name << " (expected \"" << value << "\"):\n"
           << r.describe();
  }
  if (*v != value) {
    return ::testing::AssertionFailure()
           << "header " << name << " is \"" << *v << "\", expected \"" << value << "\":\n"
           << r.describe();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult HasApiVersionHeader(const HttpResponse& r) {
  return HeaderIs(r, "Docker-Distribution-API-Version", "registry/2.0");
}

}  // namespace onsen::test
