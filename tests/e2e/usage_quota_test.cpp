// Storage usage and quotas (issue 13): GET /admin/usage and `onsen du` on images that share
// layers, the index kept right by pushes without a new walk, and quotas per repository glob
// refusing a push with DENIED — before the bytes when Content-Length declares them, at the
// manifest PUT when it does not, and a new tag beyond the tag limit. Runs on S3 too (s3.e2e,
// s3.usage).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "server_fixture.h"

namespace onsen::e2e {
namespace {

// Quotas on "quota/*" only: 100,000 bytes and 2 tags for "quota/small*", tags only elsewhere.
constexpr const char* kQuotas =
    "REGISTRY_QUOTAS=[{repository: \"quota/small*\", bytes: 100000, tags: 2}, "
    "{repository: \"quota/*\", tags: 1000}]";

class UsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    // No walk but the first one during the test: what the figures show after a push is the
    // hooks' work.
    options.env = {kQuotas, "REGISTRY_USAGE_REFRESH=1h"};
    server_.emplace(options);
    ASSERT_TRUE(server_->start()) << server_->error() << server_->log_tail();
    c_ = server_->client();
    // The first walk runs in the background from the start.
    for (int i = 0; i < 200 && !usage()["ready"].get<bool>(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(usage()["ready"].get<bool>());
  }

  json usage(const std::string& name = "") {
    auto r = c_->get(name.empty() ? "/admin/usage" : "/admin/usage/" + name);
    EXPECT_EQ(r.status, 200u) << r.describe();
    return parse_json(r.body);
  }

  // The repository's entry of the report, null when absent.
  static json entry(const json& report, const std::string& name) {
    for (auto& r : report["repositories"]) {
      if (r["name"] == name) return r;
    }
    return nullptr;
  }

  // Pushes an OCI image of the given config and layers (each uploaded unless the repository has
  // it) tagged `tag`; returns every digest it links with its size (config, layers, manifest).
  std::map<std::string, size_t> push(const std::string& repo, const std::string& tag,
                                     const std::string& config,
                                     const std::vector<std::string>& layers) {
    std::map<std::string, size_t> linked;
    json layer_descriptors = json::array();
    for (auto& layer : layers) {
      auto digest = push_blob(*c_, repo, layer);
      layer_descriptors.push_back(descriptor(mt::kOciLayer, digest, layer.size()));
      linked[digest] = layer.size();
    }
    auto config_digest = push_blob(*c_, repo, config);
    linked[config_digest] = config.size();
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", mt::kOciManifest},
                     {"config", descriptor(mt::kOciConfig, config_digest, config.size())},
                     {"layers", layer_descriptors}};
    std::string body = to_body(manifest);
    auto r = push_manifest(*c_, repo, tag, mt::kOciManifest, body);
    EXPECT_EQ(r.status, 201u) << r.describe();
    linked[sha256_digest(body)] = body.size();
    return linked;
  }

  // How many walks the server made, from its log.
  int walks() const {
    std::ifstream log(server_->log_path());
    std::string line;
    int n = 0;
    while (std::getline(log, line))
      n += line.find("usage index: storage walked") != std::string::npos;
    return n;
  }

  // `onsen du ARGS CONFIG`'s standard output and exit status.
  std::pair<std::string, int> du(const std::string& args) {
    std::string command = std::string(ONSEN_BINARY) + " du " + args + " " + server_->dir() +
                          "/config.yml 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    std::string out;
    char buf[4096];
    for (size_t n; pipe && (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
    int status = pipe ? pclose(pipe) : -1;
    return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
  }

  std::optional<OnsenServer> server_;
  std::unique_ptr<HttpClient> c_;
};

uint64_t sum(const std::map<std::string, size_t>& blobs) {
  uint64_t total = 0;
  for (auto& [digest, size] : blobs) total += size;
  return total;
}

TEST_F(UsageTest, SharedLayersAreCountedOncePerRepositoryAndShownAsShared) {
  const std::string base = random_bytes(30000, 1), app = random_bytes(20000, 2),
                    tool = random_bytes(12000, 3);
  // "usage/a" holds two images on one base layer; "usage/b" one image on the same base.
  auto a1 = push("usage/a", "v1", "{\"a\":1}", {base, app});
  auto a2 = push("usage/a", "v2", "{\"a\":2}", {base, tool});
  auto b1 = push("usage/b", "v1", "{\"b\":1}", {base});
  std::map<std::string, size_t> a = a1, b = b1, all;
  a.insert(a2.begin(), a2.end());
  all = a;
  all.insert(b.begin(), b.end());
  uint64_t shared_a = 0, shared_b = 0;
  for (auto& [digest, size] : a) shared_a += b.count(digest) ? size : 0;
  for (auto& [digest, size] : b) shared_b += a.count(digest) ? size : 0;
  ASSERT_EQ(shared_a, base.size());  // the base layer, nothing else

  // The endpoint, kept by the hooks (no walk since the pushes).
  json report = usage();
  json ea = entry(report, "usage/a"), eb = entry(report, "usage/b");
  ASSERT_FALSE(ea.is_null()) << report.dump();
  EXPECT_EQ(ea["bytes"], sum(a));
  EXPECT_EQ(ea["blobs"], a.size());
  EXPECT_EQ(ea["shared_bytes"], shared_a);
  EXPECT_EQ(ea["tags"], 2);
  EXPECT_EQ(eb["bytes"], sum(b));
  EXPECT_EQ(eb["shared_bytes"], shared_b);
  EXPECT_EQ(eb["tags"], 1);
  EXPECT_EQ(report["total"]["bytes"], sum(all));
  EXPECT_EQ(report["total"]["blobs"], all.size());
  EXPECT_EQ(usage("usage/a"), ea);
  EXPECT_TRUE(IsOciError(c_->get("/admin/usage/usage/none"), 404, "NAME_UNKNOWN"));

  // `onsen du` walks the store and finds the same figures.
  auto [out, status] = du("--json");
  ASSERT_EQ(status, 0) << out;
  json walked = parse_json(out);
  walked.erase("walked");
  report.erase("walked");
  EXPECT_EQ(walked, report);
  // Its table: one line per repository and the total, du -h's sizes.
  auto [table, table_status] = du("usage/a");
  ASSERT_EQ(table_status, 0);
  EXPECT_NE(table.find("usage/a\n"), std::string::npos) << table;
  EXPECT_EQ(table.find("usage/b"), std::string::npos) << table;
  EXPECT_NE(table.find("total of the store"), std::string::npos) << table;
  EXPECT_EQ(walks(), 1);
}

TEST_F(UsageTest, DeletesAndMountsUpdateTheFiguresWithoutAWalk) {
  const std::string layer = random_bytes(25000, 4);
  auto image = push("usage/del", "t", "{\"d\":1}", {layer});
  const std::string layer_digest = sha256_digest(layer);
  // A mount links the layer into a second repository: shared now on both sides.
  auto mount = c_->post(uploads_path("usage/mnt") + "?mount=" + layer_digest + "&from=usage/del");
  ASSERT_EQ(mount.status, 201u) << mount.describe();
  EXPECT_EQ(usage("usage/mnt")["bytes"], layer.size());
  EXPECT_EQ(usage("usage/del")["shared_bytes"], layer.size());
  // The tag deleted, then the layer unlinked from the second repository.
  ASSERT_EQ(c_->del(manifest_path("usage/del", "t")).status, 202u);
  EXPECT_EQ(usage("usage/del")["tags"], 0);
  ASSERT_EQ(c_->del(blob_path("usage/mnt", layer_digest)).status, 202u);
  EXPECT_EQ(usage("usage/mnt")["bytes"], 0);
  EXPECT_EQ(usage("usage/del")["shared_bytes"], 0);
  EXPECT_EQ(usage("usage/del")["bytes"], sum(image));
  EXPECT_EQ(walks(), 1);
}

TEST_F(UsageTest, ARepositoryDeleteIsTakenInByTheWalkItAsksFor) {
  push("usage/gone", "t", "{\"g\":1}", {random_bytes(10000, 10)});
  push("usage/stays", "t", "{\"s\":1}", {random_bytes(10000, 11)});
  const uint64_t stays = usage("usage/stays")["bytes"];
  auto r = c_->del("/admin/repositories/usage/gone");
  ASSERT_EQ(r.status, 202u) << r.describe();
  // The collector's delete goes around the hooks: the index walks again at once (not in 1h).
  for (int i = 0; i < 200 && c_->get("/admin/usage/usage/gone").status == 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(IsOciError(c_->get("/admin/usage/usage/gone"), 404, "NAME_UNKNOWN"));
  EXPECT_EQ(usage("usage/stays")["bytes"], stays);
  // One walk more than the first (logged as it ends, just after the figures change).
  for (int i = 0; i < 100 && walks() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(walks(), 2);
}

TEST_F(UsageTest, DeclaredUploadOverTheByteQuotaIsRefusedBeforeItsBytes) {
  const std::string repo = "quota/small-declared";
  push_blob(*c_, repo, random_bytes(60000, 5));
  // Monolithic: POST ?digest= with Content-Length.
  const std::string big = random_bytes(50000, 6);
  auto r = c_->post(uploads_path(repo) + "?digest=" + sha256_digest(big), big,
                    {{"Content-Type", "application/octet-stream"}});
  ASSERT_TRUE(IsOciError(r, 403, "DENIED")) << r.describe();
  const std::string message = parse_json(r.body)["errors"][0]["message"];
  EXPECT_NE(message.find("quota/small*"), std::string::npos) << message;  // the quota
  EXPECT_NE(message.find("60000 bytes"), std::string::npos) << message;   // the usage
  EXPECT_NE(message.find("100000 bytes"), std::string::npos) << message;  // the limit
  EXPECT_EQ(c_->head(blob_path(repo, sha256_digest(big))).status, 404u);
  // Chunked by PATCH with Content-Length: refused, and the upload still holds nothing.
  auto start = start_upload(*c_, repo);
  ASSERT_EQ(start.status, 202u);
  const std::string location = relative_target(start.header_or_empty("Location"));
  r = c_->patch(location, big, {{"Content-Type", "application/octet-stream"}});
  ASSERT_TRUE(IsOciError(r, 403, "DENIED")) << r.describe();
  auto status = c_->get(location);
  EXPECT_EQ(status.status, 204u);
  EXPECT_EQ(status.header_or_empty("Range"), "0-0");
  // Within the quota it goes through.
  push_blob(*c_, repo, random_bytes(30000, 7));
  EXPECT_EQ(usage(repo)["bytes"], 90000);
}

TEST_F(UsageTest, UndeclaredUploadOverTheByteQuotaIsRefusedAtTheManifest) {
  const std::string repo = "quota/small-chunked";
  const std::string layer = random_bytes(120000, 8);
  const std::string digest = sha256_digest(layer);
  // The config first: once the layer is in, any upload declaring a length is refused.
  auto config_digest = push_blob(*c_, repo, "{}");
  auto start = start_upload(*c_, repo);
  ASSERT_EQ(start.status, 202u);
  // Transfer-Encoding: chunked, no length declared: the registry cannot know before the bytes.
  auto patch = c_->send(chunked_request("PATCH", relative_target(start.header_or_empty("Location")),
                                        {{"Content-Type", "application/octet-stream"}},
                                        {layer.substr(0, 60000), layer.substr(60000)}));
  ASSERT_EQ(patch.status, 202u) << patch.describe();
  auto put =
      c_->put(add_query(relative_target(patch.header_or_empty("Location")), "digest", digest));
  ASSERT_EQ(put.status, 201u) << put.describe();
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", mt::kOciManifest},
                   {"config", descriptor(mt::kOciConfig, config_digest, 2)},
                   {"layers", {descriptor(mt::kOciLayer, digest, layer.size())}}};
  auto r = push_manifest(*c_, repo, "t", mt::kOciManifest, to_body(manifest));
  ASSERT_TRUE(IsOciError(r, 403, "DENIED")) << r.describe();
  EXPECT_NE(std::string(parse_json(r.body)["errors"][0]["message"]).find("quota/small*"),
            std::string::npos);
  EXPECT_EQ(get_manifest(*c_, repo, "t").status, 404u);
}

TEST_F(UsageTest, ANewTagBeyondTheTagQuotaIsRefused) {
  const std::string repo = "quota/small-tags";
  auto image = push_image(*c_, repo, "one", 1);
  ASSERT_EQ(push_manifest(*c_, repo, "two", mt::kOciManifest, image.manifest).status, 201u);
  auto r = push_manifest(*c_, repo, "three", mt::kOciManifest, image.manifest);
  ASSERT_TRUE(IsOciError(r, 403, "DENIED")) << r.describe();
  EXPECT_NE(std::string(parse_json(r.body)["errors"][0]["message"]).find("2 tags"),
            std::string::npos);
  // Moving an existing tag adds none; deleting one makes room.
  auto other = make_image(*c_, repo, 2);
  EXPECT_EQ(push_manifest(*c_, repo, "two", mt::kOciManifest, other.manifest).status, 201u);
  ASSERT_EQ(c_->del(manifest_path(repo, "one")).status, 202u);
  EXPECT_EQ(push_manifest(*c_, repo, "three", mt::kOciManifest, image.manifest).status, 201u);
  EXPECT_EQ(usage(repo)["tags"], 2);
}

TEST_F(UsageTest, RepositoriesNoQuotaGlobMatchesHaveNoLimit) {
  // "quotax/small" and "other/quota/small" match neither "quota/small*" nor "quota/*".
  for (const std::string repo : {"quotax/small", "other/quota/small"}) {
    const std::string big = random_bytes(150000, 9);
    auto r = c_->post(uploads_path(repo) + "?digest=" + sha256_digest(big), big,
                      {{"Content-Type", "application/octet-stream"}});
    EXPECT_EQ(r.status, 201u) << repo << ": " << r.describe();
    for (const std::string tag : {"a", "b", "c"}) push_image(*c_, repo, tag, 3);
    json e = usage(repo);
    EXPECT_TRUE(e.find("quota") == e.end()) << e.dump();
    EXPECT_EQ(e["tags"], 3);
  }
}

}  // namespace
}  // namespace onsen::e2e
