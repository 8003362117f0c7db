#include "registry/manifest.h"

#include "registry/error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

namespace onsen::registry {
namespace {

using json = nlohmann::json;
namespace mt = media_type;

const std::string kD1 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kD2 = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kD3 = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

json desc(std::string_view media_type, const std::string& digest, int64_t size) {
  return json{{"mediaType", media_type}, {"digest", digest}, {"size", size}};
}

json oci_image() {
  return json{
      {"schemaVersion", 2},
      {"mediaType", mt::kOciManifest},
      {"config", desc("application/vnd.oci.image.config.v1+json", kD1, 2)},
      {"layers", json::array({desc("application/vnd.oci.image.layer.v1.tar+gzip", kD2, 100),
                              desc("application/vnd.oci.image.layer.v1.tar+gzip", kD3, 200)})}};
}

json docker_image() {
  return json{
      {"schemaVersion", 2},
      {"mediaType", mt::kDockerManifest},
      {"config", desc("application/vnd.docker.container.image.v1+json", kD1, 1469)},
      {"layers",
       json::array({desc("application/vnd.docker.image.rootfs.diff.tar.gzip", kD2, 2479)})}};
}

json oci_index() {
  json child = desc(mt::kOciManifest, kD2, 500);
  child["platform"] = {{"architecture", "amd64"}, {"os", "linux"}};
  return json{{"schemaVersion", 2},
              {"mediaType", mt::kOciIndex},
              {"manifests", json::array({child, desc(mt::kOciManifest, kD3, 600)})}};
}

json docker_list() {
  json child = desc(mt::kDockerManifest, kD2, 528);
  child["platform"] = {{"architecture", "arm64"}, {"os", "linux"}, {"variant", "v8"}};
  return json{{"schemaVersion", 2},
              {"mediaType", mt::kDockerManifestList},
              {"manifests", json::array({child})}};
}

json oci_artifact() {
  return json{{"mediaType", mt::kOciArtifact},
              {"artifactType", "application/vnd.example.sbom.v1"},
              {"blobs", json::array({desc("application/json", kD2, 10)})},
              {"subject", desc(mt::kOciManifest, kD3, 300)},
              {"annotations", {{"org.opencontainers.image.created", "2023-01-01T00:00:00Z"}}}};
}

// Expects parse_manifest to throw kManifestInvalid with `needle` in the message.
void expect_invalid(const std::string& body, std::string_view ct, const std::string& needle) {
  try {
    parse_manifest(body, ct);
    ADD_FAILURE() << "accepted: " << body.substr(0, 200);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kManifestInvalid) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << needle << "\"";
  }
}

// Without `key`, the document is invalid and the error names the key.
void expect_invalid_without(json j, const std::string& key, std::string_view ct) {
  j.erase(key);
  expect_invalid(j.dump(), ct, key);
}

TEST(ParseManifest, OciImage) {
  Manifest m = parse_manifest(oci_image().dump(), mt::kOciManifest);
  EXPECT_EQ(m.kind, ManifestKind::kImage);
  EXPECT_EQ(m.media_type, mt::kOciManifest);
  ASSERT_TRUE(m.config.has_value());
  EXPECT_EQ(m.config->media_type, "application/vnd.oci.image.config.v1+json");
  EXPECT_EQ(m.config->digest.str(), kD1);
  EXPECT_EQ(m.config->size, 2);
  ASSERT_EQ(m.blobs.size(), 2u);
  EXPECT_EQ(m.blobs[1].digest.str(), kD3);
  EXPECT_EQ(m.blobs[1].size, 200);
  EXPECT_FALSE(m.blobs[0].has_urls);
  EXPECT_TRUE(m.manifests.empty());
  EXPECT_FALSE(m.subject.has_value());
  EXPECT_EQ(m.artifact_type, m.config->media_type);
  EXPECT_EQ(m.annotations_json, "");
}

TEST(ParseManifest, DockerImage) {
  Manifest m = parse_manifest(docker_image().dump(2), mt::kDockerManifest);
  EXPECT_EQ(m.kind, ManifestKind::kImage);
  EXPECT_EQ(m.media_type, mt::kDockerManifest);
  ASSERT_TRUE(m.config.has_value());
  EXPECT_EQ(m.config->size, 1469);
  ASSERT_EQ(m.blobs.size(), 1u);
  EXPECT_EQ(m.artifact_type, m.config->media_type);
}

TEST(ParseManifest, DockerImageRequiresBodyMediaType) {
  expect_invalid_without(docker_image(), "mediaType", mt::kDockerManifest);
}

TEST(ParseManifest, ForeignLayersHaveUrls) {
  json j = docker_image();
  json layer = desc("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", kD3, 5);
  layer["urls"] = {"https://example.com/layer.tar.gz"};
  j["layers"].push_back(layer);
  Manifest m = parse_manifest(j.dump(), mt::kDockerManifest);
  ASSERT_EQ(m.blobs.size(), 2u);
  EXPECT_FALSE(m.blobs[0].has_urls);
  EXPECT_TRUE(m.blobs[1].has_urls);

  j["layers"][1]["urls"] = "https://example.com";
  expect_invalid(j.dump(), mt::kDockerManifest, "layers[1].urls");
}

TEST(ParseManifest, OciIndex) {
  Manifest m = parse_manifest(oci_index().dump(), mt::kOciIndex);
  EXPECT_EQ(m.kind, ManifestKind::kIndex);
  EXPECT_EQ(m.media_type, mt::kOciIndex);
  ASSERT_EQ(m.manifests.size(), 2u);
  EXPECT_EQ(m.manifests[0].media_type, mt::kOciManifest);
  EXPECT_EQ(m.manifests[0].digest.str(), kD2);
  EXPECT_EQ(m.manifests[1].size, 600);
  EXPECT_FALSE(m.config.has_value());
  EXPECT_TRUE(m.blobs.empty());
}

TEST(ParseManifest, OciIndexWithArtifactTypeAndSubject) {
  json j = oci_index();
  j["artifactType"] = "application/vnd.example.bundle";
  j["subject"] = desc(mt::kOciManifest, kD1, 42);
  j["annotations"] = {{"a", "b"}};
  Manifest m = parse_manifest(j.dump(), mt::kOciIndex);
  EXPECT_EQ(m.artifact_type, "application/vnd.example.bundle");
  ASSERT_TRUE(m.subject.has_value());
  EXPECT_EQ(m.subject->digest.str(), kD1);
  EXPECT_EQ(json::parse(m.annotations_json), json({{"a", "b"}}));
}

TEST(ParseManifest, DockerManifestList) {
  Manifest m = parse_manifest(docker_list().dump(), mt::kDockerManifestList);
  EXPECT_EQ(m.kind, ManifestKind::kIndex);
  EXPECT_EQ(m.media_type, mt::kDockerManifestList);
  ASSERT_EQ(m.manifests.size(), 1u);
  EXPECT_EQ(m.manifests[0].size, 528);
}

TEST(ParseManifest, IndexChildValidation) {
  json j = oci_index();
  j["manifests"][1].erase("mediaType");
  expect_invalid(j.dump(), mt::kOciIndex, "manifests[1].mediaType");
  j = oci_index();
  j["manifests"][0].erase("size");
  expect_invalid(j.dump(), mt::kOciIndex, "manifests[0].size");
  j = oci_index();
  j["manifests"][0]["digest"] = "sha256:nope";
  expect_invalid(j.dump(), mt::kOciIndex, "manifests[0].digest: invalid digest");
  expect_invalid_without(oci_index(), "manifests", mt::kOciIndex);
  j = oci_index();
  j["manifests"] = json::object();
  expect_invalid(j.dump(), mt::kOciIndex, "manifests: must be an array");
  j["manifests"] = json::array();
  EXPECT_TRUE(parse_manifest(j.dump(), mt::kOciIndex).manifests.empty());
}

TEST(ParseManifest, OciArtifact) {
  Manifest m = parse_manifest(oci_artifact().dump(), mt::kOciArtifact);
  EXPECT_EQ(m.kind, ManifestKind::kArtifact);
  EXPECT_EQ(m.media_type, mt::kOciArtifact);
  EXPECT_EQ(m.artifact_type, "application/vnd.example.sbom.v1");
  ASSERT_EQ(m.blobs.size(), 1u);
  EXPECT_EQ(m.blobs[0].media_type, "application/json");
  ASSERT_TRUE(m.subject.has_value());
  EXPECT_EQ(m.subject->digest.str(), kD3);
  EXPECT_EQ(m.subject->size, 300);
  EXPECT_FALSE(m.config.has_value());
  EXPECT_EQ(json::parse(m.annotations_json),
            json({{"org.opencontainers.image.created", "2023-01-01T00:00:00Z"}}));
}

TEST(ParseManifest, OciArtifactRules) {
  json j = oci_artifact();
  j.erase("blobs");  // optional
  EXPECT_TRUE(parse_manifest(j.dump(), mt::kOciArtifact).blobs.empty());
  expect_invalid_without(oci_artifact(), "artifactType", mt::kOciArtifact);
  expect_invalid_without(oci_artifact(), "mediaType", mt::kOciArtifact);
  j = oci_artifact();
  j["subject"].erase("digest");
  expect_invalid(j.dump(), mt::kOciArtifact, "subject.digest");
  // No schemaVersion needed; one present is ignored.
  j = oci_artifact();
  j["schemaVersion"] = 2;
  EXPECT_EQ(parse_manifest(j.dump(), "").kind, ManifestKind::kArtifact);
}

TEST(ParseManifest, SubjectOnImage) {
  json j = oci_image();
  j["subject"] = desc(mt::kOciManifest, kD3, 1234);
  j["subject"]["artifactType"] = "application/vnd.example.sig";
  j["subject"]["annotations"] = {{"k", "v"}};
  Manifest m = parse_manifest(j.dump(), mt::kOciManifest);
  ASSERT_TRUE(m.subject.has_value());
  EXPECT_EQ(m.subject->media_type, mt::kOciManifest);
  EXPECT_EQ(m.subject->digest.str(), kD3);
  EXPECT_EQ(m.subject->size, 1234);
  EXPECT_EQ(m.subject->artifact_type, "application/vnd.example.sig");
  EXPECT_EQ(json::parse(m.subject->annotations_json), json({{"k", "v"}}));

  j["subject"] = "sha256:abc";
  expect_invalid(j.dump(), mt::kOciManifest, "subject");
}

TEST(ParseManifest, ArtifactTypeRules) {
  // Explicit artifactType wins.
  json j = oci_image();
  j["artifactType"] = "application/vnd.example.sig";
  j["config"] = desc(mt::kOciEmpty, kD3, 2);
  EXPECT_EQ(parse_manifest(j.dump(), mt::kOciManifest).artifact_type,
            "application/vnd.example.sig");
  // Without it, a non-image config media type is the artifact type (OCI 1.1 referrers rule).
  j.erase("artifactType");
  EXPECT_EQ(parse_manifest(j.dump(), mt::kOciManifest).artifact_type, mt::kOciEmpty);
  j["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json";
  EXPECT_EQ(parse_manifest(j.dump(), mt::kOciManifest).artifact_type,
            "application/vnd.cncf.helm.config.v1+json");
  // Standard image configs too: the spec says config.mediaType, whatever it is.
  j["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json";
  EXPECT_EQ(parse_manifest(j.dump(), mt::kOciManifest).artifact_type,
            "application/vnd.oci.image.config.v1+json");
  // artifactType must be a string.
  j["artifactType"] = 7;
  expect_invalid(j.dump(), mt::kOciManifest, "artifactType");
}

TEST(ParseManifest, EmptyLayersAllowed) {
  json j = oci_image();
  j["layers"] = json::array();
  EXPECT_TRUE(parse_manifest(j.dump(), mt::kOciManifest).blobs.empty());
}

TEST(ParseManifest, MissingConfig) {
  expect_invalid_without(oci_image(), "config", mt::kOciManifest);
  expect_invalid_without(docker_image(), "config", mt::kDockerManifest);
}

TEST(ParseManifest, MissingLayers) {
  expect_invalid_without(oci_image(), "layers", mt::kOciManifest);
}

TEST(ParseManifest, BadLayerDigest) {
  json j = oci_image();
  j["layers"].push_back(desc("application/vnd.oci.image.layer.v1.tar+gzip", "sha256:bad", 1));
  expect_invalid(j.dump(), mt::kOciManifest, "layers[2].digest: invalid digest");
  j["layers"][2]["digest"] = 12;
  expect_invalid(j.dump(), mt::kOciManifest, "layers[2].digest");
  j["layers"][2].erase("digest");
  expect_invalid(j.dump(), mt::kOciManifest, "layers[2].digest");
}

TEST(ParseManifest, DescriptorSizeAndMediaType) {
  for (json bad_size :
       {json(-1), json(1.5), json("10"), json(nullptr), json(18446744073709551615u)}) {
    json j = oci_image();
    j["layers"][0]["size"] = bad_size;
    expect_invalid(j.dump(), mt::kOciManifest, "layers[0].size");
  }
  json j = oci_image();
  j["config"]["size"] = 0;
  EXPECT_EQ(parse_manifest(j.dump(), mt::kOciManifest).config->size, 0);
  j["config"]["size"] = 9223372036854775807LL;
  EXPECT_EQ(parse_manifest(j.dump(), mt::kOciManifest).config->size, 9223372036854775807LL);

  for (json bad_type : {json(""), json(3), json("a\r\nb")}) {
    json k = oci_image();
    k["config"]["mediaType"] = bad_type;
    expect_invalid(k.dump(), mt::kOciManifest, "config.mediaType");
  }
  j = oci_image();
  j["layers"][1] = "not an object";
  expect_invalid(j.dump(), mt::kOciManifest, "layers[1]: must be an object");
  j = oci_image();
  j["layers"][0]["annotations"] = {{"k", 1}};
  expect_invalid(j.dump(), mt::kOciManifest, "layers[0].annotations");
  j = oci_image();
  j["annotations"] = json::array();
  expect_invalid(j.dump(), mt::kOciManifest, "annotations");
}

TEST(ParseManifest, ContentTypeMismatch) {
  expect_invalid(oci_image().dump(), mt::kOciIndex, "mediaType does not match Content-Type");
  expect_invalid(docker_image().dump(), mt::kOciManifest, "mediaType does not match Content-Type");
  expect_invalid(oci_index().dump(), mt::kDockerManifestList,
                 "mediaType does not match Content-Type");
}

TEST(ParseManifest, ContentTypeParametersAndWhitespaceIgnored) {
  std::string ct = "  " + std::string(mt::kOciManifest) + " ; charset=utf-8";
  EXPECT_EQ(parse_manifest(oci_image().dump(), ct).media_type, mt::kOciManifest);
  ct = std::string(mt::kOciIndex) + ";q=1";
  EXPECT_EQ(parse_manifest(oci_index().dump(), ct).media_type, mt::kOciIndex);
}

TEST(ParseManifest, MediaTypeResolution) {
  // No Content-Type: the body's mediaType.
  EXPECT_EQ(parse_manifest(docker_list().dump(), "").media_type, mt::kDockerManifestList);
  // Neither: guessed from the shape.
  json image = oci_image();
  image.erase("mediaType");
  EXPECT_EQ(parse_manifest(image.dump(), "").media_type, mt::kOciManifest);
  json index = oci_index();
  index.erase("mediaType");
  EXPECT_EQ(parse_manifest(index.dump(), "").media_type, mt::kOciIndex);
  EXPECT_EQ(parse_manifest(index.dump(), "").kind, ManifestKind::kIndex);
  // Content-Type alone, body without mediaType (allowed for OCI types).
  EXPECT_EQ(parse_manifest(image.dump(), mt::kOciManifest).media_type, mt::kOciManifest);
  EXPECT_EQ(parse_manifest(index.dump(), mt::kOciIndex).kind, ManifestKind::kIndex);
  // A generic Content-Type says nothing: fall back to the body.
  EXPECT_EQ(parse_manifest(docker_image().dump(), "application/json").media_type,
            mt::kDockerManifest);
}

TEST(ParseManifest, AmbiguousBodyWithoutMediaType) {
  // Served later by detect_media_type(body): without "mediaType" the body must guess the same.
  json image = oci_image();
  image.erase("mediaType");
  image["manifests"] = json::array();
  expect_invalid(image.dump(), mt::kOciManifest, "mediaType: missing");
  image["mediaType"] = mt::kOciManifest;
  EXPECT_EQ(parse_manifest(image.dump(), mt::kOciManifest).kind, ManifestKind::kImage);
  EXPECT_EQ(detect_media_type(image.dump()), mt::kOciManifest);
}

TEST(ParseManifest, UnsupportedMediaTypes) {
  expect_invalid(oci_image().dump(), "application/vnd.example.thing+json", "");
  json j = oci_image();
  j["mediaType"] = "application/vnd.example.thing+json";
  expect_invalid(j.dump(), "", "unsupported manifest media type");
  j["mediaType"] = 5;
  expect_invalid(j.dump(), "", "mediaType: must be a string");
}

TEST(ParseManifest, Schema1Rejected) {
  json s1 = {{"schemaVersion", 1},
             {"name", "library/hello"},
             {"tag", "latest"},
             {"architecture", "amd64"},
             {"fsLayers", json::array({{{"blobSum", kD1}}})},
             {"history", json::array()}};
  expect_invalid(s1.dump(), "application/vnd.docker.distribution.manifest.v1+prettyjws",
                 "schema1 manifests are not supported");
  expect_invalid(s1.dump(), "application/vnd.docker.distribution.manifest.v1+json",
                 "schema1 manifests are not supported");
  expect_invalid(s1.dump(), "", "schema1 manifests are not supported");
  json j = oci_image();
  j["schemaVersion"] = 1;
  expect_invalid(j.dump(), mt::kOciManifest, "schema1");
}

TEST(ParseManifest, SchemaVersionMustBe2) {
  for (json v : {json(3), json("2"), json(2.5), json(nullptr), json(0)}) {
    json j = oci_image();
    j["schemaVersion"] = v;
    expect_invalid(j.dump(), mt::kOciManifest, "schemaVersion");
  }
  expect_invalid_without(oci_index(), "schemaVersion", mt::kOciIndex);
}

TEST(ParseManifest, NotAnObject) {
  for (const char* body : {"[]", "\"string\"", "42", "null", "true", "[{\"schemaVersion\":2}]"}) {
    expect_invalid(body, mt::kOciManifest, "JSON object");
  }
}

TEST(ParseManifest, GarbageRejected) {
  const std::string garbage[] = {
      "",
      "   ",
      "{",
      "{\"schemaVersion\":2,}",
      "{} trailing",
      "\x89PNG\r\n\x1a\n",
      std::string("{\"a\":\"\xff\xfe\"}"),  // invalid UTF-8
      std::string("\0\0\0\0", 4),
      "{'schemaVersion': 2}",
  };
  for (const auto& body : garbage) expect_invalid(body, mt::kOciManifest, "not valid JSON");
}

TEST(ParseManifest, ErrorMessagesDoNotEchoHostileBytes) {
  std::string ct = "application/" + std::string(10000, 'x') + "\r\nX-Evil: 1";
  try {
    parse_manifest(oci_image().dump(), ct);
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_LT(msg.size(), 200u);
    EXPECT_EQ(msg.find('\r'), std::string::npos);
  }
}

TEST(ParseManifest, DeepNestingRejectedFast) {
  auto start = std::chrono::steady_clock::now();
  expect_invalid(std::string(10000, '['), mt::kOciManifest, "nested");
  expect_invalid(std::string(1000000, '{'), mt::kOciManifest, "nested");
  std::string deep_array = std::string(100000, '[') + std::string(100000, ']');
  expect_invalid(deep_array, mt::kOciManifest, "nested");
  // Deep nesting inside an otherwise valid manifest, e.g. in annotations.
  json j = oci_image();
  std::string body = j.dump();
  body.insert(body.size() - 1, ",\"x\":" + std::string(65, '[') + std::string(65, ']'));
  expect_invalid(body, mt::kOciManifest, "nested");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(detect_media_type(std::string(10000, '[')), mt::kOciManifest);
}

TEST(ParseManifest, NestingUpTo64Allowed) {
  // Top-level object is depth 1; 63 more levels in an extra field.
  std::string body = oci_image().dump();
  body.insert(body.size() - 1, ",\"x\":" + std::string(63, '[') + std::string(63, ']'));
  EXPECT_NO_THROW(parse_manifest(body, mt::kOciManifest));
  // Brackets inside strings do not count.
  json j = oci_image();
  j["annotations"] = {{"k", std::string(1000, '[') + "\\\"{"}};
  EXPECT_NO_THROW(parse_manifest(j.dump(), mt::kOciManifest));
}

TEST(DetectMediaType, Guesses) {
  EXPECT_EQ(detect_media_type(oci_image().dump()), mt::kOciManifest);
  EXPECT_EQ(detect_media_type(docker_image().dump()), mt::kDockerManifest);
  EXPECT_EQ(detect_media_type(docker_list().dump()), mt::kDockerManifestList);
  EXPECT_EQ(detect_media_type(oci_index().dump()), mt::kOciIndex);
  EXPECT_EQ(detect_media_type(oci_artifact().dump()), mt::kOciArtifact);
  json index = oci_index();
  index.erase("mediaType");
  EXPECT_EQ(detect_media_type(index.dump()), mt::kOciIndex);
  json image = oci_image();
  image.erase("mediaType");
  EXPECT_EQ(detect_media_type(image.dump()), mt::kOciManifest);
  // Fallbacks: never throws.
  EXPECT_EQ(detect_media_type(""), mt::kOciManifest);
  EXPECT_EQ(detect_media_type("garbage"), mt::kOciManifest);
  EXPECT_EQ(detect_media_type("[1,2]"), mt::kOciManifest);
  EXPECT_EQ(detect_media_type(std::string("{\"mediaType\":\"\xff\"}")), mt::kOciManifest);
  EXPECT_EQ(detect_media_type("{\"mediaType\":\"text/html\\r\\nX: y\"}"), mt::kOciManifest);
  EXPECT_EQ(detect_media_type("{\"mediaType\":7,\"manifests\":[]}"), mt::kOciIndex);
}

TEST(DetectMediaType, AgreesWithParse) {
  for (const json& j : {oci_image(), docker_image(), oci_index(), docker_list(), oci_artifact()}) {
    std::string body = j.dump();
    EXPECT_EQ(detect_media_type(body), parse_manifest(body, "").media_type);
  }
}

}  // namespace
}  // namespace onsen::registry
