// The Registry's cached listings (tags, catalog) over real drivers: every write of this process is
// in the next listing, writes of another process sharing a filesystem root show as documented in
// tag_list_cache.h and catalog_cache.h, and concurrent writers and readers agree.
#include "registry/registry.h"

#include "push.h"
#include "registry/error.h"
#include "replica_channel.h"
#include "storage/filesystem.h"
#include "storage/forwarding_driver.h"
#include "storage/inmemory.h"
#include "storage/layout.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <thread>

namespace onsen::registry {
namespace {

using namespace std::chrono_literals;
using Names = std::vector<std::string>;

// Pushes small images through a Registry.
class Pusher {
 public:
  explicit Pusher(Registry& reg) : reg_(reg) {}

  Digest blob(const std::string& repo, const std::string& content) {
    return test::push_blob(reg_, repo, content);
  }

  // An image manifest (its blobs uploaded first) tagged `tag`; returns its digest.
  Digest image(const std::string& repo, const std::string& tag, const std::string& layer = "l") {
    auto config = blob(repo, "{}");
    auto layer_digest = blob(repo, layer);
    return reg_
        .put_manifest(repo, tag, "", test::image_manifest(config, layer_digest, layer.size()))
        .digest;
  }

 private:
  Registry& reg_;
};

// Sets a directory's mtime to one fixed, old time, so the tag list cache trusts it (see
// TagListCache::kSettle) and two changes look as if they happened in one timestamp tick.
void age(const std::string& path) {
  struct timespec times[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

class RegistryListingTest : public ::testing::Test {
 protected:
  std::shared_ptr<storage::InMemoryDriver> driver = std::make_shared<storage::InMemoryDriver>();
  Registry reg{driver, RegistryOptions{.delete_enabled = true, .catalog_max_age = 1h}};
  Pusher push{reg};
};

TEST_F(RegistryListingTest, TagPutAndDeleteShowInTheNextListing) {
  auto digest = push.image("r", "b");
  EXPECT_EQ(reg.tag_list("r")->names(), (Names{"b"}));
  push.image("r", "a");
  EXPECT_EQ(reg.tag_list("r")->names(), (Names{"a", "b"}));
  reg.delete_manifest("r", "a");
  EXPECT_EQ(reg.tag_list("r")->names(), (Names{"b"}));
  push.image("r", "c");
  reg.delete_manifest("r", digest.str());  // b and c point at the same manifest
  // Nothing of the repository's manifests is left (this store keeps no empty directories, as
  // S3): unknown, as registry:2 answers on such a store.
  EXPECT_THROW(reg.tag_list("r"), Error);
}

TEST_F(RegistryListingTest, EveryWayOfMakingARepositoryShowsInTheNextCatalog) {
  auto layer = push.blob("first", "data");
  EXPECT_EQ(reg.repository_list()->names(), (Names{"first"}));
  push.blob("by/upload", "x");
  EXPECT_EQ(reg.repository_list()->names(), (Names{"by/upload", "first"}));
  reg.mount_blob("by/mount", "first", layer);
  push.image("by/manifest", "v1");
  EXPECT_EQ(reg.repository_list()->names(),
            (Names{"by/manifest", "by/mount", "by/upload", "first"}));
  reg.start_upload("upload/only");  // an upload alone does not make a repository
  EXPECT_FALSE(reg.repository_list()->contains("upload/only"));
}

TEST_F(RegistryListingTest, RepositoryGoneFromStorageLeavesTheCatalog) {
  auto layer = push.blob("gone", "data");
  push.blob("kept", "data");
  EXPECT_EQ(reg.repository_list()->size(), 2u);
  // The in-memory driver drops a directory with its last object: unlinking the only blob ends
  // the repository, as a fresh walk would tell.
  reg.delete_blob("gone", layer);
  EXPECT_EQ(reg.repository_list()->names(), (Names{"kept"}));
}

TEST_F(RegistryListingTest, RepositoryWithoutATagIsUnknown) {
  EXPECT_THROW(reg.tag_list("nothing"), Error);
  push.blob("untagged", "x");  // no tag ever: unknown, as registry:2 answers
  EXPECT_THROW(reg.tag_list("untagged"), Error);
}

TEST_F(RegistryListingTest, ConcurrentWritersAndReaders) {
  constexpr int kWriters = 3;
  constexpr int kImages = 15;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      Pusher pusher(reg);
      for (int i = 0; i < kImages; ++i) {
        std::string repo = "w" + std::to_string(w) + "/r" + std::to_string(i % 5);
        std::string tag = "t" + std::to_string(i);
        pusher.image(repo, tag, "layer" + std::to_string(w));
        // This thread's write is in its next listing, whatever other threads do meanwhile.
        if (!reg.tag_list(repo)->contains(tag)) ++failures;
        if (!reg.repository_list()->contains(repo)) ++failures;
        if (i % 4 == 3) {
          reg.delete_manifest(repo, tag);
          if (reg.tag_list(repo)->contains(tag)) ++failures;
        }
      }
    });
  }
  threads.emplace_back([&] {  // a reader listing all along
    while (!done) {
      reg.repository_list();
      try {
        reg.tag_list("w0/r0");
      } catch (const Error& e) {  // before its first push, the repository doesn't exist yet
        if (e.code() != ErrorCode::kNameUnknown) ++failures;
      }
    }
  });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done = true;
  threads.back().join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(reg.repository_list()->size(), size_t{kWriters * 5});
  EXPECT_EQ(reg.tag_list("w0/r3")->names(), (Names{"t13", "t8"}));  // t3 was deleted
}

// Two Registries on one filesystem root stand for two processes sharing a storage directory.
class SharedRootTest : public ::testing::Test {
 protected:
  test::TempDir root{"onsen-listing"};
  RegistryOptions options{.delete_enabled = true, .catalog_max_age = 200ms};
  Registry ours{std::make_shared<storage::FilesystemDriver>(root.path()), options};
  Registry theirs{std::make_shared<storage::FilesystemDriver>(root.path()), options};
  Pusher push_ours{ours};
  Pusher push_theirs{theirs};

  std::string tags_dir(const std::string& repo) {
    return root.path() + storage::layout::tags_dir(repo);
  }
};

TEST_F(SharedRootTest, TagsChangedByAnotherProcessShowAtOnce) {
  auto digest = push_theirs.image("r", "a");
  age(tags_dir("r"));
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"a"}));
  auto cached = ours.tag_list("r");
  EXPECT_EQ(ours.tag_list("r"), cached);  // served from the cache: the very same list

  push_theirs.image("r", "b");
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"a", "b"}));
  age(tags_dir("r"));
  ours.tag_list("r");
  theirs.delete_manifest("r", "a");
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"b"}));
  age(tags_dir("r"));
  ours.tag_list("r");
  theirs.delete_manifest("r", digest.str());
  EXPECT_EQ(ours.tag_list("r")->size(), 0u);
}

TEST_F(SharedRootTest, OwnTagWritesShowAtOnceEvenWithAnUnchangedMtime) {
  push_ours.image("r", "a");
  age(tags_dir("r"));
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"a"}));
  push_ours.image("r", "b");
  age(tags_dir("r"));  // the same mtime as before: only the invalidation can tell
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"a", "b"}));
}

TEST_F(SharedRootTest, RepositoriesMadeByAnotherProcessShowWithinMaxAge) {
  push_ours.blob("a", "x");
  EXPECT_EQ(ours.repository_list()->names(), (Names{"a"}));
  push_theirs.blob("b/c", "x");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!ours.repository_list()->contains("b/c") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(ours.repository_list()->names(), (Names{"a", "b/c"}));
}

// A store whose directory mtimes never change, as on an object store (S3 has no directories to
// stamp): the driver rightly claims no kDirectoryMtimeTracksChildren.
class FrozenDirectoryMtimes final : public storage::ForwardingDriver {
 public:
  using ForwardingDriver::ForwardingDriver;
  unsigned capabilities() const override { return 0; }
  std::optional<storage::FileInfo> stat(const std::string& key) override {
    auto info = ForwardingDriver::stat(key);
    if (info && info->is_dir) info->mod_time = std::chrono::system_clock::time_point(1h);
    return info;
  }
};

// Two Registries on one store without the capability: the tag list falls back to a maximum age.
TEST(SharedStoreWithoutMtimesTest, TagsChangedByAnotherProcessShowWithinMaxAge) {
  auto store = std::make_shared<storage::InMemoryDriver>();
  RegistryOptions options{.delete_enabled = true, .catalog_max_age = 200ms};
  Registry ours{std::make_shared<FrozenDirectoryMtimes>(store), options};
  Registry theirs{std::make_shared<FrozenDirectoryMtimes>(store), options};
  Pusher push_theirs{theirs};
  push_theirs.image("r", "a");
  push_theirs.image("r", "b", "other layer");
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"a", "b"}));
  auto cached = ours.tag_list("r");
  EXPECT_EQ(ours.tag_list("r"), cached);  // within the age: served from the cache

  theirs.delete_manifest("r", "a");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (ours.tag_list("r")->contains("a") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"b"}));
}

// Replicas sharing listing changes (registry/cache_events.h), the channel in process: what one
// Registry publishes the other applies. With the channel live, the caches' age limit is a minute,
// so a change the other sees at once came by message.
using Channel = test::ReplicaChannel;

TEST(SharedListingChangesTest, ChangesOfOneReplicaShowAtOnceOnTheOther) {
  auto store = std::make_shared<storage::InMemoryDriver>();
  Channel channel;
  RegistryOptions options{.delete_enabled = true, .catalog_max_age = 1h};
  options.shared_listing_max_age = 1h;
  RegistryOptions publishing = options;
  publishing.listing_changes = &channel;
  Registry theirs{std::make_shared<FrozenDirectoryMtimes>(store), publishing};
  Registry ours{std::make_shared<FrozenDirectoryMtimes>(store), options};
  channel.to = &ours;
  ours.set_listing_changes_live(true);
  Pusher push_theirs{theirs};
  push_theirs.image("r", "a");
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"a"}));
  EXPECT_EQ(ours.repository_list()->names(), (Names{"r"}));

  push_theirs.image("r", "b", "other layer");
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"a", "b"}));
  theirs.delete_manifest("r", "a");
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"b"}));
  push_theirs.image("s/t", "x");
  EXPECT_EQ(ours.repository_list()->names(), (Names{"r", "s/t"}));

  // Without the channel's messages (not applied here) the lists are kept by age: an hour.
  channel.to = nullptr;
  push_theirs.image("r", "c", "third layer");
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"b"}));
  // Resubscribing drops everything cached: messages may have been missed.
  ours.set_listing_changes_live(false);
  ours.set_listing_changes_live(true);
  EXPECT_EQ(ours.tag_list("r")->names(), (Names{"b", "c"}));
}

TEST(SharedListingChangesTest, MalformedMessagesAreRefused) {
  EXPECT_FALSE(decode("not json"));
  EXPECT_FALSE(decode(R"({"origin":"x","change":"renamed","repository":"r"})"));
  EXPECT_FALSE(decode(R"({"origin":"x","change":"tags"})"));
  auto removed = decode(encode({ListingChange::Kind::kRepositoriesRemoved, "a/b"}, "o"));
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->change.kind, ListingChange::Kind::kRepositoriesRemoved);
  EXPECT_EQ(removed->change.repository, "a/b");
}

}  // namespace
}  // namespace onsen::registry
