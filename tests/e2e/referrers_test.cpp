// The referrers API (GET /v2/<name>/referrers/<digest>), modelled on the conformance suite's
// content discovery workflow.
#include "server_fixture.h"
#include "support/registry_helpers.h"

#include <map>
#include <set>

namespace onsen::e2e {
namespace {

using namespace conformance;  // kTypeA, kTypeB, kTypeIndex, kAnnotation

struct Referrer {
  std::string body;
  std::string digest;
  std::string media_type;
  std::string artifact_type;  // expected in the referrers descriptor ("" = absent)
  std::string annotation;     // expected value of kAnnotation ("" = no annotations)
};

class ReferrersTest : public RegistryTest {
 protected:
  const std::string blob_a = "NHL Peanut Butter on my NHL bagel";
  const std::string blob_b = "NBA Strawberry Jam on my NBA croissant";

  HttpResponse referrers(const std::string& name, const std::string& digest,
                         const std::string& query = "") {
    return c().get("/v2/" + name + "/referrers/" + digest + query);
  }

  // Parses a 200 referrers answer; checks the index envelope.
  json index_of(const HttpResponse& r) {
    EXPECT_EQ(r.status, 200u) << r.describe();
    EXPECT_TRUE(HeaderIs(r, "Content-Type", mt::kOciIndex));
    json j = parse_json(r.body);
    EXPECT_TRUE(j.is_object()) << r.describe();
    if (!j.is_object()) return json::object({{"manifests", json::array()}});
    EXPECT_EQ(j.value("schemaVersion", 0), 2) << r.body;
    EXPECT_EQ(j.value("mediaType", ""), mt::kOciIndex) << r.body;
    EXPECT_TRUE(j.contains("manifests") && j["manifests"].is_array()) << r.body;
    if (!j.contains("manifests") || !j["manifests"].is_array()) j["manifests"] = json::array();
    return j;
  }

  // Pushed through `via`, or the test's client.
  Referrer put_referrer(const std::string& name, const json& m, const std::string& media_type,
                        const std::string& artifact_type, const std::string& annotation,
                        HttpClient* via = nullptr) {
    Referrer ref{to_body(m), "", media_type, artifact_type, annotation};
    ref.digest = sha256_digest(ref.body);
    auto r = push_manifest(via ? *via : c(), name, ref.digest, media_type, ref.body);
    EXPECT_EQ(r.status, 201u) << r.describe();
    if (m.contains("subject")) {
      EXPECT_TRUE(HeaderIs(r, "OCI-Subject", m["subject"]["digest"].get<std::string>()));
    }
    return ref;
  }

  // An image manifest referring to subject: config.mediaType carries the artifact type.
  Referrer config_type_referrer(const std::string& name, const json& subject, const char* type,
                                const std::string& payload, const std::string& note) {
    json m = {{"schemaVersion", 2},
              {"mediaType", mt::kOciManifest},
              {"config", descriptor_of(type, payload)},
              {"layers", json::array({descriptor(mt::kOciEmpty, kEmptyJsonDigest, 2)})},
              {"subject", subject},
              {"annotations", {{kAnnotation, note}}}};
    return put_referrer(name, m, mt::kOciManifest, type, note);
  }

  // An image manifest referring to subject with artifactType and the empty config.
  Referrer artifact_type_referrer(const std::string& name, const json& subject, const char* type,
                                  const std::string& payload, const std::string& note,
                                  HttpClient* via = nullptr) {
    json m = {{"schemaVersion", 2},
              {"mediaType", mt::kOciManifest},
              {"artifactType", type},
              {"config", descriptor(mt::kOciEmpty, kEmptyJsonDigest, 2)},
              {"layers", json::array({descriptor_of(type, payload)})},
              {"subject", subject}};
    if (!note.empty()) m["annotations"] = {{kAnnotation, note}};
    return put_referrer(name, m, mt::kOciManifest, type, note, via);
  }

  void setup_blobs(const std::string& name) {
    push_blob(c(), name, "{}");
    push_blob(c(), name, blob_a);
    push_blob(c(), name, blob_b);
  }

  // The blobs, then an image tagged "latest" to be the subject: the image and its descriptor.
  struct Subject {
    Image image;
    json descriptor;
  };
  Subject setup_subject(const std::string& name, uint32_t seed) {
    setup_blobs(name);
    Image image = push_image(c(), name, "latest", seed);
    json descriptor = descriptor_of(mt::kOciManifest, image.manifest);
    return {std::move(image), std::move(descriptor)};
  }

  // Checks that `index` lists exactly `expected` (any order) with the right descriptors.
  void expect_referrers(const json& index, const std::vector<Referrer>& expected) {
    const json& list = index["manifests"];
    ASSERT_EQ(list.size(), expected.size()) << index.dump(2);
    std::map<std::string, const Referrer*> by_digest;
    for (const auto& e : expected) by_digest[e.digest] = &e;
    std::set<std::string> seen;
    for (const auto& d : list) {
      const std::string digest = d.value("digest", "");
      auto it = by_digest.find(digest);
      ASSERT_NE(it, by_digest.end()) << "unexpected referrer " << d.dump();
      EXPECT_TRUE(seen.insert(digest).second) << "duplicate referrer " << digest;
      const Referrer& e = *it->second;
      EXPECT_EQ(d.value("mediaType", ""), e.media_type) << d.dump();
      EXPECT_EQ(d.value("size", int64_t{-1}), static_cast<int64_t>(e.body.size())) << d.dump();
      if (e.artifact_type.empty()) {
        EXPECT_FALSE(d.contains("artifactType") && !d["artifactType"].get<std::string>().empty())
            << d.dump();
      } else {
        EXPECT_EQ(d.value("artifactType", ""), e.artifact_type) << d.dump();
      }
      if (e.annotation.empty()) {
        EXPECT_TRUE(!d.contains("annotations") || d["annotations"].empty()) << d.dump();
      } else {
        ASSERT_TRUE(d.contains("annotations") && d["annotations"].is_object()) << d.dump();
        EXPECT_EQ(d["annotations"].size(), 1u) << d.dump();
        EXPECT_EQ(d["annotations"].value(kAnnotation, ""), e.annotation) << d.dump();
      }
    }
  }
};

TEST_F(ReferrersTest, UnknownDigestGivesEmptyIndex) {
  const std::string name = repo();
  push_image(c(), name, "latest", 400);
  auto r = referrers(name, sha256_digest("hello world"));
  json index = index_of(r);
  EXPECT_TRUE(index["manifests"].empty()) << r.body;
  EXPECT_TRUE(HasApiVersionHeader(r));
}

TEST_F(ReferrersTest, ListsEveryReferrerWithDescriptors) {
  const std::string name = repo();
  setup_blobs(name);
  Image subject = make_image(c(), name, 401);
  const json subject_desc = descriptor_of(mt::kOciManifest, subject.manifest);
  // Two referrers pushed before the subject exists.
  Referrer a_config = config_type_referrer(name, subject_desc, kTypeA, blob_a, "test config a");
  Referrer a_layer = artifact_type_referrer(name, subject_desc, kTypeA, blob_a, "test layer a");
  // An index referrer.
  Image child = push_image(c(), name, "", 402);
  json idx = {{"schemaVersion", 2},
              {"mediaType", mt::kOciIndex},
              {"artifactType", kTypeIndex},
              {"manifests", json::array({descriptor_of(mt::kOciManifest, child.manifest)})},
              {"subject", subject_desc},
              {"annotations", {{kAnnotation, "test index"}}}};
  Referrer index_ref = put_referrer(name, idx, mt::kOciIndex, kTypeIndex, "test index");
  // The subject, then two more referrers.
  ASSERT_EQ(push_manifest(c(), name, "tagtest0", mt::kOciManifest, subject.manifest).status, 201u);
  Referrer b_config = config_type_referrer(name, subject_desc, kTypeB, blob_b, "test config b");
  Referrer b_layer = artifact_type_referrer(name, subject_desc, kTypeB, blob_b, "test layer b");

  json index = index_of(referrers(name, subject.digest));
  expect_referrers(index, {a_config, a_layer, index_ref, b_config, b_layer});
}

TEST_F(ReferrersTest, ArtifactTypeFilter) {
  const std::string name = repo();
  const auto [subject, sd] = setup_subject(name, 403);
  Referrer a1 = config_type_referrer(name, sd, kTypeA, blob_a, "test config a");
  Referrer a2 = artifact_type_referrer(name, sd, kTypeA, blob_a, "test layer a");
  config_type_referrer(name, sd, kTypeB, blob_b, "test config b");
  artifact_type_referrer(name, sd, kTypeB, blob_b, "test layer b");

  for (const std::string& value : {std::string(kTypeA), url_encode(kTypeA)}) {
    auto r = referrers(name, subject.digest, "?artifactType=" + value);
    json index = index_of(r);
    EXPECT_TRUE(HeaderIs(r, "OCI-Filters-Applied", "artifactType"));
    expect_referrers(index, {a1, a2});
  }
  // Without the filter all four, and no filter header.
  auto all = referrers(name, subject.digest);
  EXPECT_EQ(index_of(all)["manifests"].size(), 4u);
  EXPECT_FALSE(all.has_header("OCI-Filters-Applied")) << all.describe();
}

TEST_F(ReferrersTest, FilterWithoutMatchesGivesEmptyIndex) {
  const std::string name = repo();
  setup_blobs(name);
  Image subject = push_image(c(), name, "latest", 404);
  config_type_referrer(name, descriptor_of(mt::kOciManifest, subject.manifest), kTypeA, blob_a,
                       "a");
  auto r = referrers(name, subject.digest, "?artifactType=application/vnd.nothing");
  json index = index_of(r);
  EXPECT_TRUE(index["manifests"].empty()) << r.body;
  EXPECT_TRUE(HeaderIs(r, "OCI-Filters-Applied", "artifactType"));
}

TEST_F(ReferrersTest, DanglingSubjectIsListed) {
  const std::string name = repo();
  setup_blobs(name);
  push_image(c(), name, "latest", 405);
  const std::string never = to_body({{"schemaVersion", 2}, {"never", "pushed"}});
  Referrer c_layer =
      artifact_type_referrer(name, descriptor_of(mt::kOciManifest, never), kTypeB, blob_b, "");
  expect_referrers(index_of(referrers(name, sha256_digest(never))), {c_layer});
}

TEST_F(ReferrersTest, DeletingAReferrerRemovesIt) {
  const std::string name = repo();
  const auto [subject, sd] = setup_subject(name, 406);
  Referrer keep = config_type_referrer(name, sd, kTypeA, blob_a, "keep");
  Referrer drop = artifact_type_referrer(name, sd, kTypeB, blob_b, "drop");
  expect_referrers(index_of(referrers(name, subject.digest)), {keep, drop});
  ASSERT_EQ(c().del(manifest_path(name, drop.digest)).status, 202u);
  expect_referrers(index_of(referrers(name, subject.digest)), {keep});
}

// Another onsen process serving the same root directory (a replica) sees the referrers this one
// writes and removes, and the other way round: the index lives in storage.
TEST_F(ReferrersTest, AnotherProcessOnTheSameRootSeesReferrers) {
  ServerOptions shared;
  shared.storage_dir = server()->dir() + "/storage";
  OnsenServer replica(shared);
  ASSERT_TRUE(replica.start()) << replica.error();
  auto rc = replica.client();
  const std::string name = repo();
  const auto [subject, sd] = setup_subject(name, 407);
  Referrer here = config_type_referrer(name, sd, kTypeA, blob_a, "here");
  auto there = rc->get("/v2/" + name + "/referrers/" + subject.digest);
  expect_referrers(index_of(there), {here});

  Referrer pushed_there = artifact_type_referrer(name, sd, kTypeB, blob_b, "there", rc.get());
  expect_referrers(index_of(referrers(name, subject.digest)), {here, pushed_there});

  ASSERT_EQ(rc->del(manifest_path(name, here.digest)).status, 202u);
  expect_referrers(index_of(referrers(name, subject.digest)), {pushed_there});
}

TEST_F(ReferrersTest, InvalidDigestIsDigestInvalid) {
  const std::string name = repo();
  push_image(c(), name, "latest", 407);
  EXPECT_TRUE(IsOciError(referrers(name, "sha256:totallywrong"), 400, "DIGEST_INVALID"));
  EXPECT_TRUE(IsOciError(referrers(name, "nodigest"), 400, "DIGEST_INVALID"));
}

TEST_F(ReferrersTest, ReferrersAreScopedToTheRepository) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  setup_blobs(a);
  Image subject = push_image(c(), a, "latest", 408);
  push_image(c(), b, "latest", 409);
  config_type_referrer(a, descriptor_of(mt::kOciManifest, subject.manifest), kTypeA, blob_a, "x");
  EXPECT_EQ(index_of(referrers(a, subject.digest))["manifests"].size(), 1u);
  EXPECT_TRUE(index_of(referrers(b, subject.digest))["manifests"].empty());
}

TEST_F(ReferrersTest, IndexWithoutArtifactTypeHasNoArtifactType) {
  const std::string name = repo();
  Image subject = push_image(c(), name, "latest", 410);
  Image child = push_image(c(), name, "", 411);
  json idx = {{"schemaVersion", 2},
              {"mediaType", mt::kOciIndex},
              {"manifests", json::array({descriptor_of(mt::kOciManifest, child.manifest)})},
              {"subject", descriptor_of(mt::kOciManifest, subject.manifest)}};
  Referrer r = put_referrer(name, idx, mt::kOciIndex, "", "");
  expect_referrers(index_of(referrers(name, subject.digest)), {r});
}

TEST_F(ReferrersTest, ArtifactManifestReferrer) {
  const std::string name = repo();
  Image subject = push_image(c(), name, "latest", 412);
  const std::string sig = "signature bytes";
  push_blob(c(), name, sig);
  json m = {{"mediaType", mt::kOciArtifact},
            {"artifactType", "application/vnd.example.signature"},
            {"blobs", json::array({descriptor_of("application/octet-stream", sig)})},
            {"subject", descriptor_of(mt::kOciManifest, subject.manifest)},
            {"annotations", {{kAnnotation, "signed"}}}};
  Referrer r =
      put_referrer(name, m, mt::kOciArtifact, "application/vnd.example.signature", "signed");
  expect_referrers(index_of(referrers(name, subject.digest)), {r});
}

TEST_F(ReferrersTest, TaggedReferrerIsListedOnce) {
  const std::string name = repo();
  setup_blobs(name);
  Image subject = push_image(c(), name, "latest", 413);
  Referrer r = config_type_referrer(name, descriptor_of(mt::kOciManifest, subject.manifest), kTypeA,
                                    blob_a, "tagged");
  ASSERT_EQ(push_manifest(c(), name, "sig", mt::kOciManifest, r.body).status, 201u);
  ASSERT_EQ(push_manifest(c(), name, r.digest, mt::kOciManifest, r.body).status, 201u);
  expect_referrers(index_of(referrers(name, subject.digest)), {r});
}

TEST_F(ReferrersTest, ReferrerOfAReferrer) {
  const std::string name = repo();
  setup_blobs(name);
  Image subject = push_image(c(), name, "latest", 414);
  Referrer sbom = artifact_type_referrer(name, descriptor_of(mt::kOciManifest, subject.manifest),
                                         kTypeA, blob_a, "sbom");
  Referrer sig = artifact_type_referrer(name, descriptor_of(mt::kOciManifest, sbom.body), kTypeB,
                                        blob_b, "signature of sbom");
  expect_referrers(index_of(referrers(name, subject.digest)), {sbom});
  expect_referrers(index_of(referrers(name, sbom.digest)), {sig});
}

TEST_F(ReferrersTest, PlainImageReferrerReportsConfigMediaTypeAsArtifactType) {
  // Spec: "If the artifactType is empty or missing in the image manifest, the value of
  // artifactType MUST be set to the config descriptor mediaType value" - also for a standard
  // image config (the newest conformance suite pushes such a referrer with an annotation).
  const std::string name = repo();
  Image subject = push_image(c(), name, "latest", 415);
  Image img = make_image(c(), name, 416);
  json m = json::parse(img.manifest);
  m["subject"] = descriptor_of(mt::kOciManifest, subject.manifest);
  m["annotations"] = {{kAnnotation, "test copying of annotation"}};
  Referrer r =
      put_referrer(name, m, mt::kOciManifest, mt::kOciConfig, "test copying of annotation");
  expect_referrers(index_of(referrers(name, subject.digest)), {r});
}

TEST_F(ReferrersTest, UnknownRepositoryIsEmptyOrNameUnknown) {
  auto r = referrers(repo("never"), sha256_digest("x"));
  if (r.status == 404) {
    EXPECT_TRUE(IsOciError(r, 404, "NAME_UNKNOWN"));
  } else {
    EXPECT_TRUE(index_of(r)["manifests"].empty()) << r.describe();
  }
}

}  // namespace
}  // namespace onsen::e2e
