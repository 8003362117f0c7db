// Registry-level helpers for the end-to-end tests: digests, blob and manifest pushes, manifest
// builders and OCI error assertions.
#pragma once

#include "support/http_client.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace onsen::test {

using json = nlohmann::json;

namespace mt {
inline constexpr const char* kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kOciArtifact = "application/vnd.oci.artifact.manifest.v1+json";
inline constexpr const char* kOciEmpty = "application/vnd.oci.empty.v1+json";
}  // namespace mt

// The artifact types and the annotation key the OCI conformance suite's referrers tests use.
namespace conformance {
inline constexpr const char* kTypeA = "application/vnd.nhl.peanut.butter.bagel";
inline constexpr const char* kTypeB = "application/vnd.nba.strawberry.jam.croissant";
inline constexpr const char* kTypeIndex = "application/vnd.food.stand";
inline constexpr const char* kAnnotation = "org.opencontainers.conformance.test";
}  // namespace conformance

// Every manifest type, for Accept headers.
inline constexpr const char* kAcceptAllManifests =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.artifact.manifest.v1+json";

inline constexpr const char* kEmptyJsonDigest =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
inline constexpr const char* kEmptyDigest =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string sha256_digest(std::string_view data);
std::string sha512_digest(std::string_view data);
// Deterministic pseudo-random bytes.
std::string random_bytes(size_t n, uint32_t seed);

// A JSON document as the Go conformance suite writes it (json.MarshalIndent with tabs).
std::string to_body(const json& j);
// Parses a body; a discarded value when it is not JSON.
json parse_json(const std::string& body);

json descriptor(std::string_view media_type, std::string_view digest, size_t size);
json descriptor_of(std::string_view media_type, std::string_view content);

// Starts an upload; the response (202 expected).
HttpResponse start_upload(HttpClient& c, const std::string& repo);
// POST + PUT ?digest; ADD_FAILUREs unless 201. Returns the digest.
std::string push_blob(HttpClient& c, const std::string& repo, const std::string& data);
HttpResponse push_manifest(HttpClient& c, const std::string& repo, const std::string& ref,
                           const std::string& media_type, const std::string& body);
// GET/HEAD with an Accept header listing every manifest type.
HttpResponse get_manifest(HttpClient& c, const std::string& repo, const std::string& ref);
HttpResponse head_manifest(HttpClient& c, const std::string& repo, const std::string& ref);

// A pushed OCI image: config blob, one layer, manifest.
struct Image {
  std::string config;
  std::string config_digest;
  std::string layer;
  std::string layer_digest;
  std::string manifest;  // body
  std::string digest;    // manifest digest
};
// Builds (not pushes) a unique OCI image manifest from `seed`; pushes its blobs to repo.
Image make_image(HttpClient& c, const std::string& repo, uint32_t seed);
// make_image + PUT manifest by `ref` (tag or "" for by-digest); ADD_FAILUREs unless 201.
Image push_image(HttpClient& c, const std::string& repo, const std::string& ref, uint32_t seed);

std::string blob_path(const std::string& repo, const std::string& digest);
std::string manifest_path(const std::string& repo, const std::string& ref);
std::string uploads_path(const std::string& repo);

// First error code of an OCI error body, "" when there is none.
std::string error_code(const HttpResponse& r);

// status matches, and the body is an OCI error document ({"errors":[{"code":..,"message":..}]})
// whose first code is `code` (any code when code is empty).
::testing::AssertionResult IsOciError(const HttpResponse& r, unsigned status,
                                      std::string_view code);
// A 4xx with a JSON error body whose first code is one of the OCI codes.
::testing::AssertionResult IsOciClientError(const HttpResponse& r);
// Header present with exactly this value.
::testing::AssertionResult HeaderIs(const HttpResponse& r, std::string_view name,
                                    std::string_view value);
::testing::AssertionResult HasApiVersionHeader(const HttpResponse& r);

}  // namespace onsen::test
