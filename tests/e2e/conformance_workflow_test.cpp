// The four workflows of the OCI distribution-spec conformance suite (pull, push, content
// discovery, content management), replayed in order against one namespace of one server, with
// the same requests and the same acceptance rules, so that interplay between the workflows (shared
// blobs, tags, referrers, teardown order) is exercised the way the official run does it.
#include "server_fixture.h"
#include "support/base64.h"
#include "support/registry_helpers.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <string>

namespace onsen::e2e {
namespace {

constexpr const char* kNamespace = "myorg/myrepo";
constexpr const char* kCrossmount = "conformance-6f1c2b7e-0d7f-4f57-9b5e-3c1d2e4f5a6b";
using namespace conformance;  // kTypeA, kTypeB, kTypeIndex, kAnnotation

bool is2xx(unsigned s) {
  return s >= 200 && s < 300;
}

struct Blob {
  std::string content;
  std::string digest;
  std::string length() const { return std::to_string(content.size()); }
};

Blob blob_of(std::string content) {
  Blob b{std::move(content), ""};
  b.digest = sha256_digest(b.content);
  return b;
}

// The suite's fixtures, generated once.
struct Fixtures {
  std::vector<Blob> configs;    // one per workflow
  Blob layer;                   // a small "tarball"
  std::vector<Blob> manifests;  // one per workflow, config i + layer
  Blob empty_json = blob_of("{}");
  Blob blob_a;  // streamed upload
  Blob blob_b;  // chunked upload
  Blob ref_a = blob_of("NHL Peanut Butter on my NHL bagel");
  Blob ref_b = blob_of("NBA Strawberry Jam on my NBA croissant");
  std::string dummy = sha256_digest("hello world");

  Fixtures() {
    for (int i = 0; i < 5; ++i) {
      json config = {{"architecture", "amd64"},
                     {"os", "linux"},
                     {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}},
                     {"author", "author-" + std::to_string(i) + "-" + std::to_string(::getpid())}};
      configs.push_back(blob_of(to_body(config)));
    }
    layer = blob_of(random_bytes(172, 4242));
    for (int i = 0; i < 5; ++i) {
      json cfg = descriptor(mt::kOciConfig, configs[i].digest, configs[i].content.size());
      cfg["data"] = base64(configs[i].content);
      cfg["newUnspecifiedField"] = base64("hello world");
      json m = {
          {"schemaVersion", 2},
          {"mediaType", mt::kOciManifest},
          {"config", cfg},
          {"layers", json::array({descriptor(mt::kOciLayer, layer.digest, layer.content.size())})}};
      manifests.push_back(blob_of(to_body(m)));
    }
    blob_a = blob_of(random_bytes(42, 1));
    blob_b = blob_of(random_bytes(42, 2));
  }

  json layers() const {
    return json::array({descriptor(mt::kOciLayer, layer.digest, layer.content.size())});
  }
  json subject(int i) const {
    return descriptor(mt::kOciManifest, manifests[i].digest, manifests[i].content.size());
  }
  json empty_desc() const { return descriptor(mt::kOciEmpty, empty_json.digest, 2); }
  // The "dangling subject" referrer (newest suite: configs[0] + the layer, subject manifests[3],
  // which is never pushed). Pushed by the push workflow and again by content discovery.
  std::string dangling() const {
    return to_body(
        {{"schemaVersion", 2},
         {"mediaType", mt::kOciManifest},
         {"config", descriptor(mt::kOciConfig, configs[0].digest, configs[0].content.size())},
         {"subject", subject(3)},
         {"layers", layers()}});
  }
};

const Fixtures& fx() {
  static const Fixtures f;
  return f;
}

// OCI_AUTOMATIC_CROSSMOUNT as the Go suite reads it (os.LookupEnv, then strconv.ParseBool):
// nullopt when unset; otherwise true only for a value ParseBool reads as true.
std::optional<bool> automatic_crossmount() {
  const char* value = std::getenv("OCI_AUTOMATIC_CROSSMOUNT");
  if (value == nullptr) return std::nullopt;
  const std::string v = value;
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True";
}

class ConformanceWorkflowTest : public RegistryTest {
 protected:
  // With OCI_AUTOMATIC_CROSSMOUNT true the suite expects a server configured to mount without
  // `from` (http.automaticcrossmount, set here the Distribution way, by its REGISTRY_* variable).
  static void SetUpTestSuite() {
    ServerOptions options;
    if (automatic_crossmount().value_or(false)) {
      options.env.push_back("REGISTRY_HTTP_AUTOMATICCROSSMOUNT=true");
    }
    start_shared(options);
  }

  std::string ns() const { return kNamespace; }

  // POST then PUT ?digest with the body, as the suite's setup steps do.
  HttpResponse upload(const Blob& b, const std::string& name = kNamespace) {
    auto post = c().post(uploads_path(name));
    EXPECT_EQ(post.status, 202u) << post.describe();
    return c().put(add_query(relative_target(post.header_or_empty("Location")), "digest",
                             url_encode(b.digest)),
                   b.content,
                   {{"Content-Type", "application/octet-stream"}, {"Content-Length", b.length()}});
  }
  HttpResponse put_manifest(const std::string& ref, const std::string& body,
                            const char* type = mt::kOciManifest) {
    return push_manifest(c(), kNamespace, ref, type, body);
  }
  HttpResponse get_oci(const std::string& method, const std::string& ref) {
    return c().send(
        make_request(method, manifest_path(kNamespace, ref), {{"Accept", mt::kOciManifest}}));
  }
  void expect_delete_ok(const HttpResponse& r, bool allow_404) {
    EXPECT_TRUE(is2xx(r.status) || r.status == 405 || (allow_404 && r.status == 404))
        << r.describe();
  }
  std::vector<std::string> tag_list(const HttpResponse& r) {
    json j = parse_json(r.body);
    std::vector<std::string> out;
    if (j.is_object() && j.contains("tags") && j["tags"].is_array()) {
      for (const auto& t : j["tags"]) out.push_back(t.get<std::string>());
    }
    return out;
  }
};

TEST_F(ConformanceWorkflowTest, Workflow1Pull) {
  const auto& f = fx();
  // Setup.
  EXPECT_TRUE(is2xx(upload(f.configs[0]).status));
  EXPECT_TRUE(is2xx(upload(f.layer).status));
  EXPECT_TRUE(is2xx(put_manifest("tagtest0", f.manifests[0].content).status));
  auto tags = c().get("/v2/" + ns() + "/tags/list");
  ASSERT_FALSE(tag_list(tags).empty()) << tags.describe();
  const std::string tag = tag_list(tags)[0];

  // Pull blobs.
  EXPECT_EQ(c().head(blob_path(ns(), f.dummy)).status, 404u);
  auto head = c().head(blob_path(ns(), f.configs[0].digest));
  EXPECT_EQ(head.status, 200u) << head.describe();
  if (auto h = head.header("Docker-Content-Digest")) {
    EXPECT_EQ(*h, f.configs[0].digest);
  }
  EXPECT_EQ(c().get(blob_path(ns(), f.dummy)).status, 404u);
  EXPECT_EQ(c().get(blob_path(ns(), f.configs[0].digest)).status, 200u);

  // Pull manifests.
  EXPECT_EQ(get_oci("HEAD", ".INVALID_MANIFEST_NAME").status, 404u);
  auto hd = get_oci("HEAD", f.manifests[0].digest);
  EXPECT_EQ(hd.status, 200u) << hd.describe();
  if (auto h = hd.header("Docker-Content-Digest")) {
    EXPECT_EQ(*h, f.manifests[0].digest);
  }
  auto gt = get_oci("GET", tag);
  EXPECT_EQ(gt.status, 200u) << gt.describe();
  if (auto h = gt.header("Docker-Content-Digest")) {
    EXPECT_EQ(*h, f.manifests[0].digest);
  }
  EXPECT_EQ(get_oci("GET", ".INVALID_MANIFEST_NAME").status, 404u);
  EXPECT_EQ(get_oci("GET", f.manifests[0].digest).status, 200u);

  // Error codes.
  auto bad = put_manifest("sha256:totallywrong", "blablabla");
  ASSERT_TRUE(bad.status == 400 || bad.status == 404) << bad.describe();
  if (bad.status == 400) {
    EXPECT_TRUE(IsOciClientError(bad));
  }

  // Teardown (default order: manifest before blobs).
  expect_delete_ok(c().del(manifest_path(ns(), f.manifests[0].digest)), false);
  expect_delete_ok(c().del(blob_path(ns(), f.configs[0].digest)), false);
  expect_delete_ok(c().del(blob_path(ns(), f.layer.digest)), false);
}

TEST_F(ConformanceWorkflowTest, Workflow1PullBlobsDeletedBeforeManifest) {
  // OCI_DELETE_MANIFEST_BEFORE_BLOBS=0.
  const auto& f = fx();
  EXPECT_TRUE(is2xx(upload(f.configs[0]).status));
  EXPECT_TRUE(is2xx(upload(f.layer).status));
  EXPECT_TRUE(is2xx(put_manifest("tagtest0", f.manifests[0].content).status));
  EXPECT_EQ(get_oci("GET", "tagtest0").status, 200u);
  expect_delete_ok(c().del(blob_path(ns(), f.configs[0].digest)), false);
  expect_delete_ok(c().del(blob_path(ns(), f.layer.digest)), false);
  expect_delete_ok(c().del(manifest_path(ns(), f.manifests[0].digest)), false);
}

TEST_F(ConformanceWorkflowTest, Workflow2Push) {
  const auto& f = fx();
  // Setup.
  EXPECT_TRUE(is2xx(upload(f.empty_json).status));
  EXPECT_TRUE(is2xx(upload(f.ref_a).status));

  // Streamed.
  {
    auto post = c().post(uploads_path(ns()));
    ASSERT_FALSE(post.header_or_empty("Location").empty()) << post.describe();
    auto patch = c().patch(relative_target(*post.header("Location")), f.blob_a.content,
                           {{"Content-Type", "application/octet-stream"}});
    ASSERT_EQ(patch.status, 202u) << patch.describe();
    auto put = c().put(add_query(relative_target(patch.header_or_empty("Location")), "digest",
                                 url_encode(f.blob_a.digest)),
                       "", {{"Content-Type", "application/octet-stream"}});
    EXPECT_EQ(put.status, 201u) << put.describe();
    EXPECT_FALSE(put.header_or_empty("Location").empty());
  }

  // Monolithic.
  {
    EXPECT_EQ(c().get(blob_path(ns(), f.dummy)).status, 404u);
    auto post = c().post(add_query(uploads_path(ns()), "digest", url_encode(f.configs[1].digest)),
                         f.configs[1].content, {{"Content-Type", "application/octet-stream"}});
    EXPECT_FALSE(post.header_or_empty("Location").empty()) << post.describe();
    ASSERT_TRUE(post.status == 201 || post.status == 202) << post.describe();
    auto get = c().get(blob_path(ns(), f.configs[1].digest));
    EXPECT_EQ(get.status, post.status == 202 ? 404u : 200u) << get.describe();

    auto session = c().post(uploads_path(ns()));
    ASSERT_EQ(session.status, 202u) << session.describe();
    auto put = c().put(add_query(relative_target(session.header_or_empty("Location")), "digest",
                                 url_encode(f.configs[1].digest)),
                       f.configs[1].content, {{"Content-Type", "application/octet-stream"}});
    EXPECT_EQ(put.status, 201u) << put.describe();
    EXPECT_FALSE(put.header_or_empty("Location").empty());
    EXPECT_EQ(c().get(blob_path(ns(), f.configs[1].digest)).status, 200u);
    auto layer = upload(f.layer);
    EXPECT_EQ(layer.status, 201u) << layer.describe();
    EXPECT_FALSE(layer.header_or_empty("Location").empty());
    EXPECT_EQ(c().get(blob_path(ns(), f.layer.digest)).status, 200u);
  }

  // Chunked.
  {
    const std::string& b = f.blob_b.content;
    const std::string chunk1 = b.substr(0, 22), chunk2 = b.substr(22);
    auto post = c().post(uploads_path(ns()), "", {{"Content-Length", "0"}});
    ASSERT_FALSE(post.header_or_empty("Location").empty());
    auto ooo = c().patch(relative_target(*post.header("Location")), chunk2,
                         {{"Content-Type", "application/octet-stream"},
                          {"Content-Length", std::to_string(chunk2.size())},
                          {"Content-Range", "22-41"}});
    EXPECT_EQ(ooo.status, 416u) << ooo.describe();

    auto prev = c().post(uploads_path(ns()), "", {{"Content-Length", "0"}});
    ASSERT_FALSE(prev.header_or_empty("Location").empty());
    const std::string prev_loc = relative_target(*prev.header("Location"));
    auto first = c().patch(prev_loc, chunk1,
                           {{"Content-Type", "application/octet-stream"},
                            {"Content-Length", std::to_string(chunk1.size())},
                            {"Content-Range", "0-21"}});
    EXPECT_EQ(first.status, 202u) << first.describe();
    EXPECT_EQ(first.header_or_empty("Range"), "0-21") << first.describe();

    auto retry = c().patch(prev_loc, chunk1,
                           {{"Content-Type", "application/octet-stream"},
                            {"Content-Length", std::to_string(chunk1.size())},
                            {"Content-Range", "0-21"}});
    EXPECT_EQ(retry.status, 416u) << retry.describe();

    auto stale = c().get(prev_loc);
    EXPECT_EQ(stale.status, 204u) << stale.describe();
    EXPECT_FALSE(stale.header_or_empty("Location").empty());
    EXPECT_EQ(stale.header_or_empty("Range"), "0-21");

    auto second = c().patch(relative_target(stale.header_or_empty("Location")), chunk2,
                            {{"Content-Length", std::to_string(chunk2.size())},
                             {"Content-Range", "22-41"},
                             {"Content-Type", "application/octet-stream"}});
    EXPECT_EQ(second.status, 202u) << second.describe();
    EXPECT_EQ(second.header_or_empty("Range"), "0-41");
    EXPECT_FALSE(second.header_or_empty("Location").empty());

    auto put = c().put(add_query(relative_target(second.header_or_empty("Location")), "digest",
                                 url_encode(f.blob_b.digest)),
                       "", {{"Content-Length", "0"}, {"Content-Type", "application/octet-stream"}});
    EXPECT_EQ(put.status, 201u) << put.describe();
    EXPECT_FALSE(put.header_or_empty("Location").empty());
  }

  // Cross-repository blob mount.
  {
    auto no_from = c().post(add_query(uploads_path(kCrossmount), "mount", url_encode(f.dummy)));
    EXPECT_EQ(no_from.status, 202u) << no_from.describe();
    EXPECT_FALSE(no_from.header_or_empty("Location").empty());

    auto mount = c().post(
        add_query(add_query(uploads_path(kCrossmount), "mount", url_encode(f.blob_a.digest)),
                  "from", url_encode(ns())));
    ASSERT_TRUE(mount.status == 201 || mount.status == 202) << mount.describe();
    if (mount.status == 201) {
      EXPECT_EQ(relative_target(mount.header_or_empty("Location")),
                "/v2/" + std::string(kCrossmount) + "/blobs/" + f.blob_a.digest);
      EXPECT_EQ(c().get(relative_target(mount.header_or_empty("Location"))).status, 200u);

      // Without `from` (run only after a successful mount, as the suite does): unset, either
      // answer; true, 201; false, 202.
      auto automatic =
          c().post(add_query(uploads_path(kCrossmount), "mount", url_encode(f.blob_a.digest)));
      const auto expected = automatic_crossmount();
      if (!expected) {
        EXPECT_TRUE(automatic.status == 201 || automatic.status == 202) << automatic.describe();
      } else {
        EXPECT_EQ(automatic.status, *expected ? 201u : 202u) << automatic.describe();
      }
    } else {
      EXPECT_EQ(relative_target(mount.header_or_empty("Location"))
                    .rfind("/v2/" + std::string(kCrossmount) + "/blobs/uploads/", 0),
                0u);
    }
  }

  // Manifest upload.
  {
    EXPECT_EQ(get_oci("GET", ".INVALID_MANIFEST_NAME").status, 404u);
    for (int i = 0; i < 4; ++i) {
      auto r = put_manifest("test" + std::to_string(i), f.manifests[1].content);
      EXPECT_FALSE(r.header_or_empty("Location").empty()) << r.describe();
      EXPECT_EQ(r.status, 201u) << r.describe();
    }
    // "emptylayer": the only layer is the empty JSON blob.
    json cfg = descriptor(mt::kOciConfig, f.configs[1].digest, f.configs[1].content.size());
    cfg["data"] = base64(f.configs[1].content);
    cfg["newUnspecifiedField"] = base64("hello world");
    const std::string empty_layer = to_body({{"schemaVersion", 2},
                                             {"mediaType", mt::kOciManifest},
                                             {"config", cfg},
                                             {"layers", json::array({f.empty_desc()})}});
    auto el = put_manifest("emptylayer", empty_layer);
    EXPECT_EQ(el.status, 201u) << el.describe();
    EXPECT_EQ(get_oci("GET", f.manifests[1].digest).status, 200u);

    // Custom config mediaType (as artifact type).
    const std::string config_type =
        to_body({{"schemaVersion", 2},
                 {"mediaType", mt::kOciManifest},
                 {"config", descriptor(kTypeA, f.ref_a.digest, f.ref_a.content.size())},
                 {"layers", f.layers()}});
    EXPECT_TRUE(is2xx(put_manifest(sha256_digest(config_type), config_type).status));
    // Custom artifactType.
    const std::string artifact_type = to_body(
        {{"schemaVersion", 2},
         {"mediaType", mt::kOciManifest},
         {"artifactType", kTypeA},
         {"config", f.empty_desc()},
         {"layers", json::array({descriptor(kTypeA, f.ref_a.digest, f.ref_a.content.size())})}});
    EXPECT_TRUE(is2xx(put_manifest(sha256_digest(artifact_type), artifact_type).status));

    // Image index over manifests[0], then a nested index.
    EXPECT_TRUE(is2xx(upload(f.configs[0]).status));
    EXPECT_TRUE(is2xx(put_manifest("tagtest0", f.manifests[0].content).status));
    const std::string index = to_body({{"schemaVersion", 2},
                                       {"mediaType", mt::kOciIndex},
                                       {"artifactType", kTypeIndex},
                                       {"manifests", json::array({f.subject(0)})},
                                       {"annotations", {{kAnnotation, "test index"}}}});
    auto ir = put_manifest(sha256_digest(index), index, mt::kOciIndex);
    EXPECT_TRUE(is2xx(ir.status)) << ir.describe();
    const std::string nested =
        to_body({{"schemaVersion", 2},
                 {"mediaType", mt::kOciIndex},
                 {"artifactType", kTypeIndex},
                 {"manifests",
                  json::array({descriptor(mt::kOciIndex, sha256_digest(index), index.size())})},
                 {"annotations", {{kAnnotation, "test index"}}}});
    auto nr = put_manifest(sha256_digest(nested), nested, mt::kOciIndex);
    EXPECT_TRUE(is2xx(nr.status)) << nr.describe();

    // Dangling subject (manifests[3] is never pushed).
    const std::string dangling = f.dangling();
    auto dr = put_manifest(sha256_digest(dangling), dangling);
    EXPECT_TRUE(is2xx(dr.status)) << dr.describe();
    EXPECT_TRUE(
        std::regex_match(dr.header_or_empty("OCI-Subject"), std::regex("^[a-z0-9]+:[a-f0-9]+$")))
        << dr.describe();
  }

  // Teardown (manifests before blobs).
  expect_delete_ok(c().del(manifest_path(ns(), f.manifests[1].digest)), false);
  expect_delete_ok(c().del(blob_path(ns(), f.configs[1].digest)), true);
  expect_delete_ok(c().del(blob_path(ns(), f.layer.digest)), true);
  expect_delete_ok(c().del(blob_path(ns(), f.empty_json.digest)), true);
}

TEST_F(ConformanceWorkflowTest, Workflow3ContentDiscovery) {
  const auto& f = fx();
  auto put_ref = [&](const json& m, const char* type) {
    const std::string body = to_body(m);
    auto r = put_manifest(sha256_digest(body), body, type);
    EXPECT_TRUE(is2xx(r.status)) << r.describe();
    if (m.contains("subject")) {
      EXPECT_EQ(r.header_or_empty("OCI-Subject"), m["subject"]["digest"].get<std::string>())
          << r.describe();
    }
    return sha256_digest(body);
  };
  auto config_ref = [&](const char* type, const Blob& payload, const std::string& note) {
    return put_ref({{"schemaVersion", 2},
                    {"mediaType", mt::kOciManifest},
                    {"config", descriptor(type, payload.digest, payload.content.size())},
                    {"subject", f.subject(4)},
                    {"layers", json::array({f.empty_desc()})},
                    {"annotations", {{kAnnotation, note}}}},
                   mt::kOciManifest);
  };
  auto layer_ref = [&](const char* type, const Blob& payload, const std::string& note,
                       int subject) {
    json m = {{"schemaVersion", 2},
              {"mediaType", mt::kOciManifest},
              {"artifactType", type},
              {"config", f.empty_desc()},
              {"subject", f.subject(subject)},
              {"layers", json::array({descriptor(type, payload.digest, payload.content.size())})}};
    if (!note.empty()) m["annotations"] = {{kAnnotation, note}};
    return put_ref(m, mt::kOciManifest);
  };

  // Setup.
  EXPECT_TRUE(is2xx(upload(f.configs[2]).status));
  EXPECT_TRUE(is2xx(upload(f.layer).status));
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(is2xx(put_manifest("test" + std::to_string(i), f.manifests[2].content).status));
  }
  EXPECT_TRUE(is2xx(upload(f.empty_json).status));
  EXPECT_TRUE(is2xx(upload(f.ref_a).status));
  std::map<std::string, std::string> notes;
  const std::string a_config = config_ref(kTypeA, f.ref_a, "test config a");
  notes[a_config] = "test config a";
  const std::string a_layer = layer_ref(kTypeA, f.ref_a, "test layer a", 4);
  notes[a_layer] = "test layer a";
  const std::string index = put_ref({{"schemaVersion", 2},
                                     {"mediaType", mt::kOciIndex},
                                     {"artifactType", kTypeIndex},
                                     {"manifests", json::array({f.subject(2)})},
                                     {"subject", f.subject(4)},
                                     {"annotations", {{kAnnotation, "test index"}}}},
                                    mt::kOciIndex);
  notes[index] = "test index";
  EXPECT_TRUE(is2xx(upload(f.configs[4]).status));
  EXPECT_TRUE(is2xx(upload(f.layer).status));
  EXPECT_TRUE(is2xx(put_manifest("tagtest0", f.manifests[4].content).status));
  EXPECT_TRUE(is2xx(upload(f.ref_b).status));
  const std::string b_config = config_ref(kTypeB, f.ref_b, "test config b");
  notes[b_config] = "test config b";
  const std::string b_layer = layer_ref(kTypeB, f.ref_b, "test layer b", 4);
  notes[b_layer] = "test layer b";
  // Newest suite: an ordinary image (standard config) referring to manifests[4], whose
  // annotation must be copied into its referrers descriptor.
  EXPECT_TRUE(is2xx(upload(f.configs[0]).status));
  const std::string copy = put_ref(
      {{"schemaVersion", 2},
       {"mediaType", mt::kOciManifest},
       {"config", descriptor(mt::kOciConfig, f.configs[0].digest, f.configs[0].content.size())},
       {"layers", f.layers()},
       {"subject", f.subject(4)},
       {"annotations", {{kAnnotation, "test copying of annotation"}}}},
      mt::kOciManifest);
  notes[copy] = "test copying of annotation";
  const std::string c_layer = put_ref(json::parse(f.dangling()), mt::kOciManifest);

  // Tags.
  auto all = c().get("/v2/" + ns() + "/tags/list");
  ASSERT_EQ(all.status, 200u) << all.describe();
  const auto tags = tag_list(all);
  ASSERT_GE(tags.size(), 2u);
  const size_t half = tags.size() / 2;
  auto page = c().get("/v2/" + ns() + "/tags/list?n=" + std::to_string(half));
  ASSERT_EQ(page.status, 200u);
  const auto first = tag_list(page);
  ASSERT_EQ(first.size(), half) << page.body;
  auto next =
      c().get("/v2/" + ns() + "/tags/list?n=" + std::to_string(half) + "&last=" + first.back());
  ASSERT_EQ(next.status, 200u);
  const auto second = tag_list(next);
  EXPECT_LE(second.size(), half);
  EXPECT_EQ(std::count(second.begin(), second.end(), first.back()), 0);

  // Referrers.
  auto referrers = [&](const std::string& digest, const std::string& query) {
    auto r = c().get("/v2/" + ns() + "/referrers/" + digest + query);
    EXPECT_EQ(r.status, 200u) << r.describe();
    EXPECT_EQ(r.header_or_empty("Content-Type"), mt::kOciIndex) << r.describe();
    json j = parse_json(r.body);
    EXPECT_TRUE(j.is_object() && j.contains("manifests")) << r.describe();
    return std::make_pair(
        r, j.is_object() && j.contains("manifests") ? j["manifests"] : json::array());
  };
  EXPECT_TRUE(referrers(f.dummy, "").second.empty());
  auto [r4, list4] = referrers(f.manifests[4].digest, "");
  ASSERT_EQ(list4.size(), 6u) << r4.body;
  EXPECT_NE(list4[0]["digest"], list4[1]["digest"]);
  for (const auto& d : list4) {
    ASSERT_TRUE(d.contains("annotations")) << d.dump();
    EXPECT_EQ(d["annotations"].size(), 1u) << d.dump();
    EXPECT_EQ(d["annotations"].value(kAnnotation, ""), notes[d.value("digest", "")]) << d.dump();
  }
  auto [rf, filtered] = referrers(f.manifests[4].digest, "?artifactType=" + url_encode(kTypeA));
  if (rf.has_header("OCI-Filters-Applied")) {
    EXPECT_EQ(rf.header_or_empty("OCI-Filters-Applied"), "artifactType");
    EXPECT_EQ(filtered.size(), 2u) << rf.body;
  } else {
    ADD_FAILURE() << "artifactType filter not applied:\n" << rf.describe();
  }
  auto [r3, list3] = referrers(f.manifests[3].digest, "");
  ASSERT_EQ(list3.size(), 1u) << r3.body;
  EXPECT_EQ(list3[0].value("digest", ""), c_layer);

  // Teardown (manifests before blobs).
  for (const std::string& d : {index, f.manifests[2].digest, f.manifests[4].digest, a_config,
                               a_layer, b_config, b_layer, c_layer, copy}) {
    expect_delete_ok(c().del(manifest_path(ns(), d)), true);
  }
  expect_delete_ok(c().del(blob_path(ns(), f.configs[2].digest)), true);
  expect_delete_ok(c().del(blob_path(ns(), f.layer.digest)), true);
  for (const Blob* b : {&f.configs[4], &f.ref_a, &f.ref_b, &f.empty_json}) {
    expect_delete_ok(c().del(blob_path(ns(), b->digest)), true);
  }
}

TEST_F(ConformanceWorkflowTest, Workflow4ContentManagement) {
  const auto& f = fx();
  EXPECT_TRUE(is2xx(upload(f.configs[3]).status));
  EXPECT_TRUE(is2xx(upload(f.layer).status));
  EXPECT_TRUE(is2xx(put_manifest("tagtest0", f.manifests[3].content).status));
  auto before = c().get("/v2/" + ns() + "/tags/list");
  ASSERT_EQ(before.status, 200u) << before.describe();
  const size_t num_tags = tag_list(before).size();

  auto del_tag = c().del(manifest_path(ns(), "tagtest0"));
  ASSERT_TRUE(del_tag.status == 202 || del_tag.status == 400) << del_tag.describe();
  if (del_tag.status == 400) {
    EXPECT_EQ(error_code(del_tag), "UNSUPPORTED");
  }
  auto del_digest = c().del(manifest_path(ns(), f.manifests[3].digest));
  EXPECT_TRUE(del_digest.status == 202 || del_digest.status == 404) << del_digest.describe();
  auto gone = c().get(manifest_path(ns(), f.manifests[3].digest));
  EXPECT_TRUE(gone.status == 404 || gone.status == 200) << gone.describe();
  auto after = c().get("/v2/" + ns() + "/tags/list");
  ASSERT_EQ(after.status, 200u) << after.describe();
  EXPECT_LT(tag_list(after).size(), num_tags) << after.body;

  auto del_blob = c().del(blob_path(ns(), f.configs[3].digest));
  EXPECT_EQ(del_blob.status, 202u) << del_blob.describe();
  EXPECT_EQ(c().get(blob_path(ns(), f.configs[3].digest)).status, 404u);
}

}  // namespace
}  // namespace onsen::e2e
