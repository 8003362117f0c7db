// UsageIndex on a real (in-memory) store under a real Registry: what its hooks keep is what a
// fresh walk finds, quotas refuse with DENIED naming quota and usage, a repository without a
// quota never waits for the first walk, and another replica's changes are taken in.
#include "registry/usage_index.h"

#include "push.h"
#include "registry/error.h"
#include "registry/registry.h"
#include "replica_channel.h"
#include "storage/inmemory.h"
#include "storage/layout.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace onsen::registry {
namespace {

using test::image_manifest;
using test::push_blob;
constexpr const char* kOci = "application/vnd.oci.image.manifest.v1+json";

using Figures = std::vector<std::tuple<std::string, uint64_t, uint64_t, uint64_t, uint64_t>>;

// What a report says, without the time of its walk.
std::tuple<Figures, uint64_t, uint64_t> figures(const UsageReport& report) {
  Figures repos;
  for (auto& r : report.repositories) {
    repos.emplace_back(r.name, r.bytes, r.shared_bytes, r.blobs, r.tags);
  }
  return {repos, report.total_bytes, report.total_blobs};
}

// A fresh walk of the store.
std::tuple<Figures, uint64_t, uint64_t> walked(std::shared_ptr<storage::Driver> driver) {
  UsageIndex fresh(std::move(driver));
  fresh.walk();
  return figures(fresh.report());
}

struct Store {
  explicit Store(Quotas quotas = {})
      : driver(std::make_shared<storage::InMemoryDriver>()), usage(driver, std::move(quotas)) {
    usage.walk();
    RegistryOptions options;
    options.delete_enabled = true;
    options.usage = &usage;
    registry = std::make_unique<Registry>(driver, options);
  }
  // An image of a config and one layer in repo, tagged `tag`.
  Digest push_image(const std::string& repo, const std::string& tag, const std::string& layer) {
    auto config = push_blob(*registry, repo, "{}");
    auto layer_digest = push_blob(*registry, repo, layer);
    return registry
        ->put_manifest(repo, tag, kOci, image_manifest(config, layer_digest, layer.size()))
        .digest;
  }

  std::shared_ptr<storage::Driver> driver;
  UsageIndex usage;
  std::unique_ptr<Registry> registry;
};

TEST(UsageIndex, HooksKeepWhatAFreshWalkFinds) {
  Store s;
  const std::string base(5000, 'b'), app(3000, 'a');
  s.push_image("team/a", "v1", base);
  s.push_image("team/a", "v2", app);
  auto b = s.push_image("team/b", "v1", base);
  EXPECT_EQ(figures(s.usage.report()), walked(s.driver));
  auto a = s.usage.repository("team/a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->tags, 2u);
  // The base layer, the "{}" config and the v1 manifest, which is the same bytes in both.
  const auto v1 = image_manifest(digest_of("{}"), digest_of(base), base.size());
  EXPECT_EQ(a->shared_bytes, base.size() + 2 + v1.size());
  // A mount, a tag deleted, a manifest deleted by digest, a blob unlinked.
  ASSERT_TRUE(s.registry->mount_blob("team/c", "team/a", digest_of(app)));
  s.registry->delete_manifest("team/a", "v1");
  s.registry->delete_manifest("team/b", b.str());
  s.registry->delete_blob("team/a", digest_of(base));
  EXPECT_EQ(figures(s.usage.report()), walked(s.driver));
  EXPECT_EQ(s.usage.repository("team/b")->tags, 0u);
  EXPECT_EQ(s.usage.repository("team/c")->shared_bytes, app.size());
}

TEST(UsageIndex, QuotasRefuseWithDeniedNamingTheQuotaAndTheUsage) {
  Store s(Quotas({{"q/*", 10000, 1}}));
  push_blob(*s.registry, "q/x", std::string(6000, 'x'));
  try {
    s.registry->check_quota("q/x", 5000);
    ADD_FAILURE() << "no refusal";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDenied);
    const std::string message = e.what();
    EXPECT_NE(message.find("quota \"q/*\""), std::string::npos) << message;
    EXPECT_NE(message.find("stores 5.9 KiB (6000 bytes)"), std::string::npos) << message;
    EXPECT_NE(message.find("adds 5000 bytes"), std::string::npos) << message;
  }
  s.registry->check_quota("q/x", 4000);
  s.registry->check_quota("free", 1ull << 40);  // no glob matches
  // The tag limit: a first tag, then no second; the first may move.
  s.push_image("q/x", "one", "layer one");
  EXPECT_THROW(s.push_image("q/x", "two", "layer two"), Error);
  EXPECT_EQ(s.usage.repository("q/x")->tags, 1u);
  s.push_image("q/x", "one", "layer three");
  // Bytes at the manifest: layers linked past the limit (an upload without a declared length)
  // keep the manifest out.
  auto config = push_blob(*s.registry, "q/y", "{}");
  auto layer = push_blob(*s.registry, "q/y", std::string(12000, 'y'));
  try {
    s.registry->put_manifest("q/y", "t", kOci, image_manifest(config, layer, 12000));
    ADD_FAILURE() << "no refusal";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDenied) << e.what();
  }
}

TEST(UsageIndex, ARepositoryWithoutQuotaNeverWaitsForTheFirstWalk) {
  auto driver = std::make_shared<storage::InMemoryDriver>();
  UsageIndex usage(driver, Quotas({{"q/*", 10, std::nullopt}}));  // never walked
  const auto started = std::chrono::steady_clock::now();
  usage.check_bytes("free/x", 1ull << 40);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_FALSE(usage.report().ready);
}

TEST(UsageIndex, AnotherReplicasChangesAreTakenIn) {
  // Replica A writes; replica B on the same store hears its changes through the channel (tags),
  // and of its link writes as the read cache's wrapper publishes them on S3 (given here by hand).
  auto driver = std::make_shared<storage::InMemoryDriver>();
  test::ReplicaChannel channel;
  UsageIndex usage_a(driver), usage_b(driver);
  usage_a.walk();
  usage_b.start(std::chrono::hours(1));
  RegistryOptions a_options, b_options;
  a_options.listing_changes = &channel;
  a_options.usage = &usage_a;
  b_options.usage = &usage_b;
  Registry a(driver, a_options), b(driver, b_options);
  channel.to = &b;
  auto layer = push_blob(a, "r", std::string(4000, 'l'));
  auto config = push_blob(a, "r", "{}");
  a.put_manifest("r", "t", kOci, image_manifest(config, layer, 4000));
  namespace layout = storage::layout;
  for (auto& d : {layer, config}) {
    b.apply({ListingChange::Kind::kStored, "", layout::layer_link("r", d.algorithm(), d.hex())});
  }
  auto manifest = digest_of(image_manifest(config, layer, 4000));
  b.apply({ListingChange::Kind::kStored, "",
           layout::revision_link("r", manifest.algorithm(), manifest.hex())});
  for (int i = 0; i < 200 && figures(usage_b.report()) != figures(usage_a.report()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(figures(usage_b.report()), figures(usage_a.report()));
  EXPECT_EQ(usage_b.repository("r")->tags, 1u);
}

}  // namespace
}  // namespace onsen::registry
