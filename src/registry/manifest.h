// Parsing and validation of manifests: Docker schema2 manifests and manifest lists, OCI image
// manifests and indexes, and OCI artifact manifests. Knows JSON, not storage.
#pragma once

#include "registry/digest.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onsen::registry {

namespace media_type {
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciArtifact = "application/vnd.oci.artifact.manifest.v1+json";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
}  // namespace media_type

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::string artifact_type;     // "" when absent
  std::string annotations_json;  // the "annotations" object re-serialised, "" when absent
  bool has_urls = false;  // foreign/non-distributable layer with "urls": not required locally
};

enum class ManifestKind { kImage, kIndex, kArtifact };

struct Manifest {
  ManifestKind kind = ManifestKind::kImage;
  std::string media_type;             // resolved media type (see parse_manifest)
  std::string artifact_type;          // OCI artifactType, or for images without one the config's
                                      // media type (the referrers rule); "" for indexes without one
  std::optional<Descriptor> config;   // images
  std::vector<Descriptor> blobs;      // image layers, or artifact "blobs"
  std::vector<Descriptor> manifests;  // index / manifest list children
  std::optional<Descriptor> subject;
  std::string annotations_json;  // top-level "annotations" re-serialised, "" when absent
};

// Parses a manifest body. content_type is the request's Content-Type ("" when absent; parameters
// such as "; charset=utf-8" are ignored). The media type is the Content-Type when given, else the
// body's "mediaType", else guessed (OCI index when "manifests" is present, else OCI manifest).
// Throws Error(kManifestInvalid) for: invalid JSON or not an object, JSON nested deeper than 64,
// schemaVersion other than 2 (artifact manifests have none), a "mediaType" field that differs from
// Content-Type, an unsupported media type, descriptors without a valid digest/mediaType/size, a
// missing config (images) — with a message saying which.
Manifest parse_manifest(std::string_view body, std::string_view content_type);

// The media type to serve a stored manifest with (its "mediaType" or the guess above); never
// throws, falls back to the OCI manifest type.
std::string detect_media_type(std::string_view body);

}  // namespace onsen::registry
