// Manifests: every supported type, validation errors, names and tags, subjects, deletion.
#include "server_fixture.h"
#include "support/registry_helpers.h"

namespace onsen::e2e {
namespace {

class ManifestTest : public RegistryTest {
 protected:
  // Pushes `body` with `media_type` by ref and expects a 201 whose headers are right.
  void put_ok(const std::string& name, const std::string& ref, const std::string& media_type,
              const std::string& body) {
    auto r = push_manifest(c(), name, ref, media_type, body);
    ASSERT_EQ(r.status, 201u) << r.describe();
    const std::string digest = sha256_digest(body);
    EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", digest));
    EXPECT_EQ(path_of(r.header_or_empty("Location")), manifest_path(name, digest));
  }

  // GET by ref returns exactly body with the media type.
  void expect_manifest(const std::string& name, const std::string& ref,
                       const std::string& media_type, const std::string& body) {
    auto r = get_manifest(c(), name, ref);
    ASSERT_EQ(r.status, 200u) << ref << "\n" << r.describe();
    EXPECT_TRUE(r.body == body) << "manifest bytes differ for " << ref << ":\n" << r.body;
    EXPECT_TRUE(HeaderIs(r, "Content-Type", media_type));
    EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", sha256_digest(body)));
    EXPECT_TRUE(HeaderIs(r, "Content-Length", std::to_string(body.size())));
  }

  // An image manifest of the given type over blobs pushed to name.
  std::string image_manifest(const std::string& name, uint32_t seed,
                             const char* media_type = mt::kOciManifest) {
    const bool docker = std::string(media_type) == mt::kDockerManifest;
    const std::string config =
        to_body({{"architecture", "amd64"},
                 {"os", "linux"},
                 {"seed", seed},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}});
    const std::string layer = random_bytes(256, seed);
    push_blob(c(), name, config);
    push_blob(c(), name, layer);
    json m = {
        {"schemaVersion", 2},
        {"mediaType", media_type},
        {"config", descriptor_of(docker ? mt::kDockerConfig : mt::kOciConfig, config)},
        {"layers", json::array({descriptor_of(docker ? mt::kDockerLayer : mt::kOciLayer, layer)})}};
    return to_body(m);
  }
};

TEST_F(ManifestTest, PutOciManifestByTag) {
  const std::string name = repo();
  Image img = make_image(c(), name, 100);
  auto r = push_manifest(c(), name, "v1", mt::kOciManifest, img.manifest);
  ASSERT_EQ(r.status, 201u) << r.describe();
  EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", img.digest));
  EXPECT_EQ(path_of(r.header_or_empty("Location")), manifest_path(name, img.digest));
  EXPECT_TRUE(HasApiVersionHeader(r));
}

TEST_F(ManifestTest, GetByTagAndByDigestReturnIdenticalBytes) {
  const std::string name = repo();
  Image img = push_image(c(), name, "v1", 101);
  auto by_tag = get_manifest(c(), name, "v1");
  auto by_digest = get_manifest(c(), name, img.digest);
  ASSERT_EQ(by_tag.status, 200u) << by_tag.describe();
  ASSERT_EQ(by_digest.status, 200u) << by_digest.describe();
  EXPECT_EQ(by_tag.body, img.manifest);
  EXPECT_EQ(by_digest.body, img.manifest);
  for (const auto* r : {&by_tag, &by_digest}) {
    EXPECT_TRUE(HeaderIs(*r, "Content-Type", mt::kOciManifest));
    EXPECT_TRUE(HeaderIs(*r, "Docker-Content-Digest", img.digest));
    EXPECT_TRUE(HeaderIs(*r, "Content-Length", std::to_string(img.manifest.size())));
  }
}

TEST_F(ManifestTest, GetWithOnlyOciAcceptHeader) {
  // What the conformance suite sends.
  const std::string name = repo();
  Image img = push_image(c(), name, "tagtest0", 102);
  for (const std::string& ref : {std::string("tagtest0"), img.digest}) {
    auto r = c().get(manifest_path(name, ref), {{"Accept", mt::kOciManifest}});
    ASSERT_EQ(r.status, 200u) << r.describe();
    EXPECT_EQ(r.body, img.manifest);
    EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", img.digest));
  }
}

TEST_F(ManifestTest, HeadByTagAndByDigest) {
  const std::string name = repo();
  Image img = push_image(c(), name, "v1", 103);
  for (const std::string& ref : {std::string("v1"), img.digest}) {
    auto r = head_manifest(c(), name, ref);
    ASSERT_EQ(r.status, 200u) << ref << "\n" << r.describe();
    EXPECT_TRUE(r.body.empty());
    EXPECT_TRUE(HeaderIs(r, "Content-Length", std::to_string(img.manifest.size())));
    EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", img.digest));
    EXPECT_TRUE(HeaderIs(r, "Content-Type", mt::kOciManifest));
  }
}

TEST_F(ManifestTest, PutByDigest) {
  const std::string name = repo();
  Image img = make_image(c(), name, 104);
  put_ok(name, img.digest, mt::kOciManifest, img.manifest);
  expect_manifest(name, img.digest, mt::kOciManifest, img.manifest);
}

TEST_F(ManifestTest, SameManifestUnderSeveralTags) {
  const std::string name = repo();
  Image img = make_image(c(), name, 105);
  for (int i = 0; i < 4; ++i) {
    put_ok(name, "test" + std::to_string(i), mt::kOciManifest, img.manifest);
  }
  for (int i = 0; i < 4; ++i) {
    expect_manifest(name, "test" + std::to_string(i), mt::kOciManifest, img.manifest);
  }
}

TEST_F(ManifestTest, PuttingTheSameTagTwiceIsIdempotent) {
  const std::string name = repo();
  Image img = make_image(c(), name, 106);
  put_ok(name, "again", mt::kOciManifest, img.manifest);
  put_ok(name, "again", mt::kOciManifest, img.manifest);
  expect_manifest(name, "again", mt::kOciManifest, img.manifest);
}

TEST_F(ManifestTest, RepushingATagMovesIt) {
  const std::string name = repo();
  Image first = push_image(c(), name, "moving", 107);
  Image second = push_image(c(), name, "moving", 108);
  ASSERT_NE(first.digest, second.digest);
  expect_manifest(name, "moving", mt::kOciManifest, second.manifest);
  // The old manifest is still there by digest.
  expect_manifest(name, first.digest, mt::kOciManifest, first.manifest);
}

TEST_F(ManifestTest, DockerSchema2Manifest) {
  const std::string name = repo();
  const std::string body = image_manifest(name, 109, mt::kDockerManifest);
  put_ok(name, "docker", mt::kDockerManifest, body);
  expect_manifest(name, "docker", mt::kDockerManifest, body);
  expect_manifest(name, sha256_digest(body), mt::kDockerManifest, body);
}

TEST_F(ManifestTest, DockerManifestList) {
  const std::string name = repo();
  const std::string amd = image_manifest(name, 110, mt::kDockerManifest);
  const std::string arm = image_manifest(name, 111, mt::kDockerManifest);
  put_ok(name, sha256_digest(amd), mt::kDockerManifest, amd);
  put_ok(name, sha256_digest(arm), mt::kDockerManifest, arm);
  json d1 = descriptor_of(mt::kDockerManifest, amd);
  d1["platform"] = {{"architecture", "amd64"}, {"os", "linux"}};
  json d2 = descriptor_of(mt::kDockerManifest, arm);
  d2["platform"] = {{"architecture", "arm64"}, {"os", "linux"}, {"variant", "v8"}};
  const std::string list = to_body({{"schemaVersion", 2},
                                    {"mediaType", mt::kDockerManifestList},
                                    {"manifests", json::array({d1, d2})}});
  put_ok(name, "multi", mt::kDockerManifestList, list);
  expect_manifest(name, "multi", mt::kDockerManifestList, list);
  expect_manifest(name, sha256_digest(list), mt::kDockerManifestList, list);
}

TEST_F(ManifestTest, OciImageIndex) {
  const std::string name = repo();
  const std::string a = image_manifest(name, 112);
  const std::string b = image_manifest(name, 113);
  put_ok(name, sha256_digest(a), mt::kOciManifest, a);
  put_ok(name, sha256_digest(b), mt::kOciManifest, b);
  json da = descriptor_of(mt::kOciManifest, a);
  da["platform"] = {{"architecture", "amd64"}, {"os", "linux"}};
  json db = descriptor_of(mt::kOciManifest, b);
  db["platform"] = {{"architecture", "s390x"}, {"os", "linux"}};
  const std::string index = to_body({{"schemaVersion", 2},
                                     {"mediaType", mt::kOciIndex},
                                     {"manifests", json::array({da, db})},
                                     {"annotations", {{"org.example.k", "v"}}}});
  put_ok(name, "index", mt::kOciIndex, index);
  expect_manifest(name, "index", mt::kOciIndex, index);
  expect_manifest(name, sha256_digest(index), mt::kOciIndex, index);
}

TEST_F(ManifestTest, NestedOciImageIndex) {
  const std::string name = repo();
  const std::string m = image_manifest(name, 114);
  put_ok(name, sha256_digest(m), mt::kOciManifest, m);
  const std::string inner =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kOciIndex},
               {"artifactType", "application/vnd.food.stand"},
               {"manifests", json::array({descriptor_of(mt::kOciManifest, m)})}});
  put_ok(name, sha256_digest(inner), mt::kOciIndex, inner);
  const std::string outer =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kOciIndex},
               {"manifests", json::array({descriptor_of(mt::kOciIndex, inner)})},
               {"annotations", {{"org.opencontainers.conformance.test", "test index"}}}});
  put_ok(name, "nested", mt::kOciIndex, outer);
  expect_manifest(name, "nested", mt::kOciIndex, outer);
}

TEST_F(ManifestTest, IndexWithoutMediaTypeFieldUsesContentType) {
  const std::string name = repo();
  const std::string m = image_manifest(name, 115);
  put_ok(name, sha256_digest(m), mt::kOciManifest, m);
  const std::string index = to_body(
      {{"schemaVersion", 2}, {"manifests", json::array({descriptor_of(mt::kOciManifest, m)})}});
  put_ok(name, "nomediatype", mt::kOciIndex, index);
  expect_manifest(name, "nomediatype", mt::kOciIndex, index);
}

TEST_F(ManifestTest, ArtifactTypeWithEmptyConfig) {
  const std::string name = repo();
  push_blob(c(), name, "{}");
  const std::string payload = "NHL Peanut Butter on my NHL bagel";
  push_blob(c(), name, payload);
  const std::string body =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kOciManifest},
               {"artifactType", "application/vnd.nhl.peanut.butter.bagel"},
               {"config", descriptor(mt::kOciEmpty, kEmptyJsonDigest, 2)},
               {"layers",
                json::array({descriptor_of("application/vnd.nhl.peanut.butter.bagel", payload)})}});
  put_ok(name, "artifact", mt::kOciManifest, body);
  expect_manifest(name, "artifact", mt::kOciManifest, body);
}

TEST_F(ManifestTest, CustomConfigMediaTypeAsArtifactType) {
  const std::string name = repo();
  const std::string payload = "NHL Peanut Butter on my NHL bagel";
  push_blob(c(), name, payload);
  const std::string layer = random_bytes(100, 116);
  push_blob(c(), name, layer);
  const std::string body =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kOciManifest},
               {"config", descriptor_of("application/vnd.nhl.peanut.butter.bagel", payload)},
               {"layers", json::array({descriptor_of(mt::kOciLayer, layer)})}});
  put_ok(name, sha256_digest(body), mt::kOciManifest, body);
  expect_manifest(name, sha256_digest(body), mt::kOciManifest, body);
}

TEST_F(ManifestTest, OciArtifactManifest) {
  const std::string name = repo();
  const std::string sbom = "{\"sbom\":true}";
  push_blob(c(), name, sbom);
  const std::string body =
      to_body({{"mediaType", mt::kOciArtifact},
               {"artifactType", "application/vnd.example.sbom.v1"},
               {"blobs", json::array({descriptor_of("application/json", sbom)})},
               {"annotations", {{"org.example.created", "today"}}}});
  put_ok(name, "sbom", mt::kOciArtifact, body);
  expect_manifest(name, "sbom", mt::kOciArtifact, body);
}

TEST_F(ManifestTest, ArtifactManifestWithUnknownBlobIsRejected) {
  const std::string name = repo();
  push_blob(c(), name, "exists");
  const std::string body =
      to_body({{"mediaType", mt::kOciArtifact},
               {"artifactType", "application/vnd.example.sbom.v1"},
               {"blobs", json::array({descriptor_of("application/json", "never pushed")})}});
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "x", mt::kOciArtifact, body), 400,
                         "MANIFEST_BLOB_UNKNOWN"));
}

TEST_F(ManifestTest, ManifestWithNoLayers) {
  const std::string name = repo();
  const std::string config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
  push_blob(c(), name, config);
  const std::string body =
      "{ \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", "
      "\"config\":  { \"digest\": \"" +
      sha256_digest(config) +
      "\", \"mediaType\": \"application/vnd.oci.image.config.v1+json\", "
      "\"size\": " +
      std::to_string(config.size()) + " }, \"layers\": [], \"schemaVersion\": 2 }";
  put_ok(name, "nolayers", mt::kOciManifest, body);
  expect_manifest(name, "nolayers", mt::kOciManifest, body);
}

TEST_F(ManifestTest, ManifestWithEmptyJsonLayerAndDescriptorExtras) {
  // Like the conformance suite's "emptylayer" manifest: the config descriptor carries "data" and
  // an unspecified field, the only layer is the empty JSON blob.
  const std::string name = repo();
  const std::string config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"author\":\"x\"}";
  push_blob(c(), name, config);
  push_blob(c(), name, "{}");
  json cfg = descriptor_of(mt::kOciConfig, config);
  cfg["data"] = "eyJhcmNoaXRlY3R1cmUiOiJhbWQ2NCIsIm9zIjoibGludXgiLCJhdXRob3IiOiJ4In0=";
  cfg["newUnspecifiedField"] = "aGVsbG8gd29ybGQ=";
  const std::string body =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kOciManifest},
               {"config", cfg},
               {"layers", json::array({descriptor(mt::kOciEmpty, kEmptyJsonDigest, 2)})}});
  put_ok(name, "emptylayer", mt::kOciManifest, body);
  expect_manifest(name, "emptylayer", mt::kOciManifest, body);
}

TEST_F(ManifestTest, LayerMediaTypesIncludingNondistributable) {
  const std::string name = repo();
  const std::string config = to_body({{"architecture", "amd64"}, {"os", "linux"}});
  const std::string layer = random_bytes(300, 117);
  push_blob(c(), name, config);
  push_blob(c(), name, layer);
  for (const char* type :
       {"application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.nhl.peanut.butter.bagel"}) {
    const std::string body = to_body({{"schemaVersion", 2},
                                      {"mediaType", mt::kOciManifest},
                                      {"config", descriptor_of(mt::kOciConfig, config)},
                                      {"layers", json::array({descriptor_of(type, layer)})}});
    auto r = push_manifest(c(), name, sha256_digest(body), mt::kOciManifest, body);
    EXPECT_EQ(r.status, 201u) << type << "\n" << r.describe();
  }
}

TEST_F(ManifestTest, ManifestReferencingFourMebibyteLayer) {
  const std::string name = repo();
  const std::string config = to_body({{"architecture", "amd64"}, {"os", "linux"}});
  const std::string layer = random_bytes(4 * 1024 * 1024, 118);
  push_blob(c(), name, config);
  push_blob(c(), name, layer);
  const std::string body =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kOciManifest},
               {"config", descriptor_of(mt::kOciConfig, config)},
               {"layers", json::array({descriptor_of(mt::kOciLayer, layer)})}});
  put_ok(name, "big", mt::kOciManifest, body);
}

TEST_F(ManifestTest, ManifestWithAnnotationsRoundTrips) {
  const std::string name = repo();
  const std::string config = to_body({{"architecture", "amd64"}, {"os", "linux"}});
  push_blob(c(), name, config);
  const std::string body = to_body({{"schemaVersion", 2},
                                    {"mediaType", mt::kOciManifest},
                                    {"config", descriptor_of(mt::kOciConfig, config)},
                                    {"layers", json::array()},
                                    {"annotations",
                                     {{"org.opencontainers.conformance.test", "test annotation"},
                                      {"unicode", "\xc3\xa9\xe2\x9c\x93"}}}});
  put_ok(name, "annotated", mt::kOciManifest, body);
  expect_manifest(name, "annotated", mt::kOciManifest, body);
}

TEST_F(ManifestTest, PutWithoutContentTypeUsesBodyMediaType) {
  const std::string name = repo();
  Image img = make_image(c(), name, 119);
  auto r = push_manifest(c(), name, "noct", "", img.manifest);
  ASSERT_EQ(r.status, 201u) << r.describe();
  expect_manifest(name, "noct", mt::kOciManifest, img.manifest);
}

TEST_F(ManifestTest, MissingConfigBlobIsManifestBlobUnknown) {
  const std::string name = repo();
  const std::string layer = random_bytes(100, 120);
  push_blob(c(), name, layer);
  const std::string body =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kOciManifest},
               {"config", descriptor_of(mt::kOciConfig, "{\"never\":\"pushed\"}")},
               {"layers", json::array({descriptor_of(mt::kOciLayer, layer)})}});
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "x", mt::kOciManifest, body), 400,
                         "MANIFEST_BLOB_UNKNOWN"));
  EXPECT_EQ(get_manifest(c(), name, "x").status, 404u);
}

TEST_F(ManifestTest, MissingLayerBlobIsManifestBlobUnknown) {
  const std::string name = repo();
  const std::string config = to_body({{"os", "linux"}});
  push_blob(c(), name, config);
  const std::string body =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kOciManifest},
               {"config", descriptor_of(mt::kOciConfig, config)},
               {"layers", json::array({descriptor_of(mt::kOciLayer, "layer never pushed")})}});
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "x", mt::kOciManifest, body), 400,
                         "MANIFEST_BLOB_UNKNOWN"));
}

TEST_F(ManifestTest, BlobsOfAnotherRepositoryDoNotCount) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  Image img = make_image(c(), a, 121);
  push_blob(c(), b, "b exists");
  EXPECT_TRUE(IsOciError(push_manifest(c(), b, "x", mt::kOciManifest, img.manifest), 400,
                         "MANIFEST_BLOB_UNKNOWN"));
}

TEST_F(ManifestTest, IndexWithUnknownChildIsManifestBlobUnknown) {
  const std::string name = repo();
  const std::string child = image_manifest(name, 122);  // blobs pushed, manifest not
  const std::string index =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kOciIndex},
               {"manifests", json::array({descriptor_of(mt::kOciManifest, child)})}});
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "idx", mt::kOciIndex, index), 400,
                         "MANIFEST_BLOB_UNKNOWN"));
}

TEST_F(ManifestTest, ManifestListWithUnknownChildIsManifestBlobUnknown) {
  const std::string name = repo();
  const std::string child = image_manifest(name, 123, mt::kDockerManifest);
  const std::string list =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kDockerManifestList},
               {"manifests", json::array({descriptor_of(mt::kDockerManifest, child)})}});
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "list", mt::kDockerManifestList, list), 400,
                         "MANIFEST_BLOB_UNKNOWN"));
}

TEST_F(ManifestTest, InvalidJsonIsManifestInvalid) {
  const std::string name = repo();
  push_blob(c(), name, "exists");
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "bad", mt::kOciManifest, "blablabla"), 400,
                         "MANIFEST_INVALID"));
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "bad", mt::kOciManifest, "{\"schemaVersion\":"),
                         400, "MANIFEST_INVALID"));
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "bad", mt::kOciManifest, "[1,2,3]"), 400,
                         "MANIFEST_INVALID"));
  EXPECT_TRUE(
      IsOciError(push_manifest(c(), name, "bad", mt::kOciManifest, ""), 400, "MANIFEST_INVALID"));
}

TEST_F(ManifestTest, ContentTypeDifferentFromMediaTypeIsManifestInvalid) {
  const std::string name = repo();
  Image img = make_image(c(), name, 124);
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "mismatch", mt::kOciIndex, img.manifest), 400,
                         "MANIFEST_INVALID"));
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "mismatch", mt::kDockerManifest, img.manifest),
                         400, "MANIFEST_INVALID"));
}

TEST_F(ManifestTest, WrongSchemaVersionIsManifestInvalid) {
  const std::string name = repo();
  Image img = make_image(c(), name, 125);
  json m = json::parse(img.manifest);
  m["schemaVersion"] = 3;
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "v3", mt::kOciManifest, to_body(m)), 400,
                         "MANIFEST_INVALID"));
}

TEST_F(ManifestTest, ImageManifestWithoutConfigIsManifestInvalid) {
  const std::string name = repo();
  Image img = make_image(c(), name, 126);
  json m = json::parse(img.manifest);
  m.erase("config");
  EXPECT_TRUE(IsOciError(push_manifest(c(), name, "noconfig", mt::kOciManifest, to_body(m)), 400,
                         "MANIFEST_INVALID"));
}

TEST_F(ManifestTest, PutByDigestThatDoesNotMatchIsDigestInvalid) {
  const std::string name = repo();
  Image img = make_image(c(), name, 127);
  auto r = push_manifest(c(), name, sha256_digest("another body"), mt::kOciManifest, img.manifest);
  EXPECT_TRUE(IsOciError(r, 400, "DIGEST_INVALID"));
  EXPECT_EQ(get_manifest(c(), name, img.digest).status, 404u);
}

TEST_F(ManifestTest, PutToMalformedDigestReferenceIs400WithOciCode) {
  // Conformance "400 response body should contain OCI-conforming JSON message".
  const std::string name = repo();
  push_blob(c(), name, "exists");
  auto r = push_manifest(c(), name, "sha256:totallywrong", mt::kOciManifest, "blablabla");
  ASSERT_EQ(r.status, 400u) << r.describe();
  EXPECT_TRUE(IsOciClientError(r));
}

TEST_F(ManifestTest, OversizedManifestIsRejected) {
  const std::string name = repo();
  Image img = make_image(c(), name, 128);
  json m = json::parse(img.manifest);
  m["annotations"] = {{"padding", std::string(4 * 1024 * 1024 + 1024, 'x')}};
  auto r = push_manifest(c(), name, "huge", mt::kOciManifest, to_body(m));
  EXPECT_TRUE(r.status == 413 || (r.status == 400 && error_code(r) == "MANIFEST_INVALID"))
      << r.describe();
  EXPECT_EQ(get_manifest(c(), name, "huge").status, 404u);
}

TEST_F(ManifestTest, ManifestJustUnderFourMebibytesIsAccepted) {
  // Registries should accept manifests up to 4 MiB.
  const std::string name = repo();
  Image img = make_image(c(), name, 150);
  json m = json::parse(img.manifest);
  m["annotations"] = {{"padding", std::string(4 * 1024 * 1024 - 4096, 'x')}};
  const std::string body = to_body(m);
  ASSERT_LT(body.size(), 4u * 1024 * 1024);
  put_ok(name, "almost4mib", mt::kOciManifest, body);
  expect_manifest(name, "almost4mib", mt::kOciManifest, body);
}

TEST_F(ManifestTest, InvalidTagIsTagInvalid) {
  const std::string name = repo();
  Image img = make_image(c(), name, 129);
  for (const std::string& tag :
       {std::string("-bad"), std::string(".bad"), std::string(129, 'a'), std::string("bad!tag")}) {
    EXPECT_TRUE(IsOciError(push_manifest(c(), name, tag, mt::kOciManifest, img.manifest), 400,
                           "TAG_INVALID"))
        << tag;
  }
}

TEST_F(ManifestTest, LongestValidTagIsAccepted) {
  const std::string name = repo();
  Image img = make_image(c(), name, 130);
  const std::string tag = "_" + std::string(127, 'Z');
  put_ok(name, tag, mt::kOciManifest, img.manifest);
  expect_manifest(name, tag, mt::kOciManifest, img.manifest);
  put_ok(name, "A.b-C_9", mt::kOciManifest, img.manifest);
}

TEST_F(ManifestTest, InvalidRepositoryNameIsNameInvalid) {
  Image img = make_image(c(), repo(), 131);
  for (const std::string bad : {"UPPER", "e2e/Upper", "a//b", "-a", "a-", "a/-b", "a..b", "a/"}) {
    auto r = push_manifest(c(), bad, "latest", mt::kOciManifest, img.manifest);
    EXPECT_TRUE(IsOciError(r, 400, "NAME_INVALID")) << bad;
  }
}

TEST_F(ManifestTest, RepositoryNameWithManyComponents) {
  const std::string name = repo("a/b/c/d");
  Image img = push_image(c(), name, "deep", 132);
  expect_manifest(name, "deep", mt::kOciManifest, img.manifest);
  expect_manifest(name, img.digest, mt::kOciManifest, img.manifest);
  auto tags = c().get("/v2/" + name + "/tags/list");
  ASSERT_EQ(tags.status, 200u) << tags.describe();
  EXPECT_EQ(parse_json(tags.body)["name"], name);
}

TEST_F(ManifestTest, RepositoryNamesWithSeparators) {
  for (const std::string suffix : {"a.b", "a_b", "a__b", "a---b", "x0/y1"}) {
    const std::string name = repo(suffix);
    Image img = push_image(c(), name, "latest", 133);
    EXPECT_EQ(get_manifest(c(), name, "latest").status, 200u) << name;
  }
}

TEST_F(ManifestTest, SubjectIsEchoedInOciSubjectHeader) {
  const std::string name = repo();
  Image img = make_image(c(), name, 134);
  const std::string missing_subject = to_body({{"never", "pushed"}});
  json m = json::parse(img.manifest);
  m["subject"] = descriptor_of(mt::kOciManifest, missing_subject);
  const std::string body = to_body(m);
  auto r = push_manifest(c(), name, sha256_digest(body), mt::kOciManifest, body);
  ASSERT_EQ(r.status, 201u) << r.describe();
  EXPECT_TRUE(HeaderIs(r, "OCI-Subject", sha256_digest(missing_subject)));
}

TEST_F(ManifestTest, IndexSubjectIsEchoedInOciSubjectHeader) {
  const std::string name = repo();
  Image img = push_image(c(), name, "", 135);
  const std::string index =
      to_body({{"schemaVersion", 2},
               {"mediaType", mt::kOciIndex},
               {"artifactType", "application/vnd.food.stand"},
               {"manifests", json::array({descriptor_of(mt::kOciManifest, img.manifest)})},
               {"subject", descriptor_of(mt::kOciManifest, img.manifest)}});
  auto r = push_manifest(c(), name, sha256_digest(index), mt::kOciIndex, index);
  ASSERT_EQ(r.status, 201u) << r.describe();
  EXPECT_TRUE(HeaderIs(r, "OCI-Subject", img.digest));
}

TEST_F(ManifestTest, NoOciSubjectHeaderWithoutSubject) {
  const std::string name = repo();
  Image img = make_image(c(), name, 136);
  auto r = push_manifest(c(), name, "plain", mt::kOciManifest, img.manifest);
  ASSERT_EQ(r.status, 201u) << r.describe();
  EXPECT_FALSE(r.has_header("OCI-Subject")) << r.describe();
}

TEST_F(ManifestTest, GetUnknownTagIsManifestUnknown) {
  const std::string name = repo();
  push_image(c(), name, "exists", 137);
  EXPECT_TRUE(IsOciError(get_manifest(c(), name, "nope"), 404, "MANIFEST_UNKNOWN"));
  auto h = head_manifest(c(), name, "nope");
  EXPECT_EQ(h.status, 404u) << h.describe();
  EXPECT_TRUE(h.body.empty());
}

TEST_F(ManifestTest, GetUnknownDigestIsManifestUnknown) {
  const std::string name = repo();
  push_image(c(), name, "exists", 138);
  const std::string d = sha256_digest("no such manifest");
  EXPECT_TRUE(IsOciError(get_manifest(c(), name, d), 404, "MANIFEST_UNKNOWN"));
  EXPECT_EQ(head_manifest(c(), name, d).status, 404u);
}

TEST_F(ManifestTest, GetInUnknownRepositoryIs404) {
  auto r = get_manifest(c(), repo("never"), "latest");
  ASSERT_EQ(r.status, 404u) << r.describe();
  const auto code = error_code(r);
  EXPECT_TRUE(code == "NAME_UNKNOWN" || code == "MANIFEST_UNKNOWN") << r.describe();
}

TEST_F(ManifestTest, GetOrHeadOfInvalidTagNameIs404) {
  // The conformance suite asks for ".INVALID_MANIFEST_NAME" and requires a 404.
  const std::string name = repo();
  push_image(c(), name, "exists", 139);
  auto g = get_manifest(c(), name, ".INVALID_MANIFEST_NAME");
  EXPECT_EQ(g.status, 404u) << g.describe();
  EXPECT_TRUE(parse_json(g.body).is_object()) << g.describe();
  EXPECT_EQ(head_manifest(c(), name, ".INVALID_MANIFEST_NAME").status, 404u);
}

TEST_F(ManifestTest, GetMalformedDigestReferenceIsClientError) {
  const std::string name = repo();
  push_image(c(), name, "exists", 140);
  for (const std::string ref : {"sha256:totallywrong", "md5:abc", "sha256:ABC"}) {
    auto r = get_manifest(c(), name, ref);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << ref << "\n" << r.describe();
    EXPECT_TRUE(IsOciClientError(r)) << ref;
    auto h = head_manifest(c(), name, ref);
    EXPECT_TRUE(h.status == 400 || h.status == 404) << ref << "\n" << h.describe();
  }
}

TEST_F(ManifestTest, DeleteByDigestRemovesManifestAndItsTags) {
  const std::string name = repo();
  Image img = make_image(c(), name, 141);
  put_ok(name, "one", mt::kOciManifest, img.manifest);
  put_ok(name, "two", mt::kOciManifest, img.manifest);
  Image other = push_image(c(), name, "other", 142);
  auto d = c().del(manifest_path(name, img.digest));
  ASSERT_EQ(d.status, 202u) << d.describe();
  EXPECT_TRUE(IsOciError(get_manifest(c(), name, img.digest), 404, "MANIFEST_UNKNOWN"));
  EXPECT_EQ(head_manifest(c(), name, img.digest).status, 404u);
  EXPECT_TRUE(IsOciError(get_manifest(c(), name, "one"), 404, "MANIFEST_UNKNOWN"));
  EXPECT_TRUE(IsOciError(get_manifest(c(), name, "two"), 404, "MANIFEST_UNKNOWN"));
  expect_manifest(name, "other", mt::kOciManifest, other.manifest);
  auto tags = c().get("/v2/" + name + "/tags/list");
  ASSERT_EQ(tags.status, 200u) << tags.describe();
  EXPECT_EQ(parse_json(tags.body)["tags"], json::array({"other"})) << tags.body;
}

TEST_F(ManifestTest, DeleteByTagRemovesOnlyThatTag) {
  const std::string name = repo();
  Image img = make_image(c(), name, 143);
  put_ok(name, "keep", mt::kOciManifest, img.manifest);
  put_ok(name, "drop", mt::kOciManifest, img.manifest);
  auto d = c().del(manifest_path(name, "drop"));
  ASSERT_EQ(d.status, 202u) << d.describe();
  EXPECT_TRUE(IsOciError(get_manifest(c(), name, "drop"), 404, "MANIFEST_UNKNOWN"));
  expect_manifest(name, "keep", mt::kOciManifest, img.manifest);
  expect_manifest(name, img.digest, mt::kOciManifest, img.manifest);
  auto tags = c().get("/v2/" + name + "/tags/list");
  ASSERT_EQ(tags.status, 200u) << tags.describe();
  EXPECT_EQ(parse_json(tags.body)["tags"], json::array({"keep"})) << tags.body;
}

TEST_F(ManifestTest, DeleteUnknownManifestIs404) {
  const std::string name = repo();
  push_image(c(), name, "exists", 144);
  EXPECT_TRUE(
      IsOciError(c().del(manifest_path(name, sha256_digest("nothing"))), 404, "MANIFEST_UNKNOWN"));
  auto t = c().del(manifest_path(name, "nosuchtag"));
  EXPECT_EQ(t.status, 404u) << t.describe();
  EXPECT_TRUE(IsOciClientError(t));
}

TEST_F(ManifestTest, ManifestCanBeDeletedAfterItsBlobs) {
  // The conformance suite's teardown with OCI_DELETE_MANIFEST_BEFORE_BLOBS=0 deletes the config
  // and layer blobs first and then requires 2xx for the manifest delete.
  const std::string name = repo();
  Image img = push_image(c(), name, "tagtest0", 147);
  ASSERT_EQ(c().del(blob_path(name, img.config_digest)).status, 202u);
  ASSERT_EQ(c().del(blob_path(name, img.layer_digest)).status, 202u);
  auto d = c().del(manifest_path(name, img.digest));
  EXPECT_EQ(d.status, 202u) << d.describe();
  EXPECT_EQ(get_manifest(c(), name, img.digest).status, 404u);
  EXPECT_EQ(get_manifest(c(), name, "tagtest0").status, 404u);
}

TEST_F(ManifestTest, TagsAreCaseSensitive) {
  const std::string name = repo();
  Image lower = make_image(c(), name, 148);
  Image mixed = make_image(c(), name, 149);
  put_ok(name, "tagtest0", mt::kOciManifest, lower.manifest);
  put_ok(name, "tagTest0", mt::kOciManifest, mixed.manifest);
  expect_manifest(name, "tagtest0", mt::kOciManifest, lower.manifest);
  expect_manifest(name, "tagTest0", mt::kOciManifest, mixed.manifest);
  ASSERT_EQ(c().del(manifest_path(name, "tagTest0")).status, 202u);
  EXPECT_EQ(get_manifest(c(), name, "tagTest0").status, 404u);
  expect_manifest(name, "tagtest0", mt::kOciManifest, lower.manifest);
}

TEST_F(ManifestTest, DeletedManifestCanBePushedAgain) {
  const std::string name = repo();
  Image img = push_image(c(), name, "back", 145);
  ASSERT_EQ(c().del(manifest_path(name, img.digest)).status, 202u);
  put_ok(name, "back", mt::kOciManifest, img.manifest);
  expect_manifest(name, "back", mt::kOciManifest, img.manifest);
}

TEST_F(ManifestTest, ManifestDigestIsComputedOverExactBytes) {
  // Whitespace differences give different manifests with different digests.
  const std::string name = repo();
  Image img = make_image(c(), name, 146);
  const std::string compact = json::parse(img.manifest).dump();
  ASSERT_NE(sha256_digest(compact), img.digest);
  put_ok(name, "pretty", mt::kOciManifest, img.manifest);
  put_ok(name, "compact", mt::kOciManifest, compact);
  expect_manifest(name, "pretty", mt::kOciManifest, img.manifest);
  expect_manifest(name, "compact", mt::kOciManifest, compact);
}

}  // namespace
}  // namespace onsen::e2e
