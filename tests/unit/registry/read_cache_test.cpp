// The read cache in front of a store whose reads are round trips (registry/read_caching_driver.h),
// over the inmemory driver made to look like one: what a warm pull costs in store calls, what
// replicas sharing the storage see after each other's writes, and the race of a slow read with a
// write.
#include "registry/registry.h"

#include "push.h"
#include "registry/error.h"
#include "registry/read_caching_driver.h"
#include "replica_channel.h"
#include "storage/forwarding_driver.h"
#include "storage/inmemory.h"
#include "storage/layout.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace onsen::registry {
namespace {

using namespace std::chrono_literals;
namespace layout = storage::layout;

// The inmemory driver without kCheapReads (as S3), counting the reads that reach it; a read of
// `held_key` waits, after it read the store, until release().
class CountingDriver final : public storage::ForwardingDriver {
 public:
  explicit CountingDriver(std::shared_ptr<storage::Driver> store)
      : ForwardingDriver(std::move(store)) {}
  unsigned capabilities() const override { return 0; }

  std::optional<std::string> get_content(const std::string& key) override {
    ++reads;
    auto content = ForwardingDriver::get_content(key);
    if (key == held_key) {
      std::unique_lock lock(mutex_);
      holding_ = true;
      changed_.notify_all();
      changed_.wait(lock, [&] { return released_; });
    }
    return content;
  }
  std::optional<storage::FileInfo> stat(const std::string& key) override {
    ++reads;
    return ForwardingDriver::stat(key);
  }
  std::vector<std::optional<std::string>> get_contents(
      const std::vector<std::string>& keys) override {
    reads += keys.size();
    return ForwardingDriver::get_contents(keys);
  }
  std::vector<std::optional<storage::FileInfo>> stats(
      const std::vector<std::string>& keys) override {
    reads += keys.size();
    return ForwardingDriver::stats(keys);
  }
  std::unique_ptr<storage::Reader> reader(const std::string& key, uint64_t offset) override {
    ++reads;
    return ForwardingDriver::reader(key, offset);
  }
  std::unique_ptr<storage::Reader> range_reader(const std::string& key, uint64_t offset,
                                                uint64_t length) override {
    ++reads;
    return ForwardingDriver::range_reader(key, offset, length);
  }
  std::optional<std::vector<std::string>> list(const std::string& key) override {
    ++reads;
    return ForwardingDriver::list(key);
  }

  void wait_until_holding() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return holding_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

  std::atomic<size_t> reads{0};
  std::string held_key;  // set before the reads start

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool holding_ = false;
  bool released_ = false;
};

RegistryOptions cached_options() {
  RegistryOptions options{.delete_enabled = true, .catalog_max_age = 1h};
  options.shared_listing_max_age = 1h;
  options.read_cache_entries = 1000;
  return options;
}

using Channel = test::ReplicaChannel;

struct Image {
  Digest manifest;
  Digest layer;
};

Image push_image(Registry& reg, const std::string& repo, const std::string& tag,
                 const std::string& layer) {
  auto config = test::push_blob(reg, repo, "{}");
  auto layer_digest = test::push_blob(reg, repo, layer);
  auto manifest = test::image_manifest(config, layer_digest, layer.size());
  return Image{reg.put_manifest(repo, tag, "", manifest).digest, layer_digest};
}

// Without the cache: a blob HEAD is its layer link and one stat of its data; a manifest GET by tag
// the tag's link, the revision link and one read of the data (no stat before it).
TEST(RegistryStoreCallsTest, PullsMakeNoRedundantStoreCalls) {
  auto store = std::make_shared<CountingDriver>(std::make_shared<storage::InMemoryDriver>());
  RegistryOptions options{.delete_enabled = true};
  Registry reg(store, options);
  auto image = push_image(reg, "r", "t", "layer");
  store->reads = 0;
  EXPECT_EQ(reg.blob_size("r", image.layer), 5u);
  EXPECT_EQ(store->reads, 2u);
  store->reads = 0;
  EXPECT_EQ(reg.get_manifest("r", "t").digest, image.manifest);
  EXPECT_EQ(store->reads, 3u);
  store->reads = 0;
  EXPECT_EQ(reg.get_manifest("r", image.manifest.str()).digest, image.manifest);
  EXPECT_EQ(store->reads, 2u);
}

TEST(ReadCacheTest, WarmPullsCostNoStoreCalls) {
  auto store = std::make_shared<CountingDriver>(std::make_shared<storage::InMemoryDriver>());
  Registry reg(store, cached_options());
  auto image = push_image(reg, "r", "t", "layer");
  auto manifest = reg.get_manifest("r", "t");  // cold: fills the cache
  reg.blob_size("r", image.layer);
  store->reads = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(reg.blob_size("r", image.layer), 5u);
    auto by_tag = reg.get_manifest("r", "t");
    EXPECT_EQ(by_tag.digest, image.manifest);
    EXPECT_EQ(by_tag.bytes, manifest.bytes);
    EXPECT_EQ(reg.get_manifest("r", image.manifest.str()).bytes, manifest.bytes);
  }
  EXPECT_EQ(store->reads, 0u);
  // A blob GET opens the data (one store call) after the cached link check.
  auto reader = reg.open_blob("r", image.layer, 0, 5);
  EXPECT_EQ(store->reads, 1u);

  // This registry's own writes are seen at once.
  auto moved = push_image(reg, "r", "t", "another layer");
  EXPECT_EQ(reg.get_manifest("r", "t").digest, moved.manifest);
  reg.delete_manifest("r", moved.manifest.str());
  EXPECT_THROW(reg.get_manifest("r", "t"), Error);
  EXPECT_THROW(reg.get_manifest("r", moved.manifest.str()), Error);
  reg.delete_blob("r", image.layer);
  EXPECT_THROW(reg.blob_size("r", image.layer), Error);
}

TEST(ReadCacheTest, OnlyStoresWhoseReadsAreRoundTripsGetIt) {
  auto store = std::make_shared<CountingDriver>(std::make_shared<storage::InMemoryDriver>());
  struct Cheap final : storage::ForwardingDriver {
    using ForwardingDriver::ForwardingDriver;
    unsigned capabilities() const override { return storage::kCheapReads; }
  };
  Registry reg(std::make_shared<Cheap>(store), cached_options());
  auto image = push_image(reg, "r", "t", "layer");
  reg.blob_size("r", image.layer);
  store->reads = 0;
  reg.blob_size("r", image.layer);
  EXPECT_EQ(store->reads, 2u);
}

TEST(ReadCacheTest, ReplicasSeeEachOthersWritesAtOnce) {
  auto store = std::make_shared<storage::InMemoryDriver>();
  Channel channel;
  RegistryOptions publishing = cached_options();
  publishing.listing_changes = &channel;
  Registry theirs(std::make_shared<CountingDriver>(store), publishing);
  auto ours_store = std::make_shared<CountingDriver>(store);
  Registry ours(ours_store, cached_options());
  channel.to = &ours;
  ours.set_listing_changes_live(true);

  auto first = push_image(theirs, "r", "t", "layer");
  EXPECT_EQ(ours.get_manifest("r", "t").digest, first.manifest);
  EXPECT_EQ(ours.blob_size("r", first.layer), 5u);
  ours_store->reads = 0;
  EXPECT_EQ(ours.get_manifest("r", "t").digest, first.manifest);  // cached
  EXPECT_EQ(ours_store->reads, 0u);

  // A tag moved.
  auto second = push_image(theirs, "r", "t", "another layer");
  EXPECT_EQ(ours.get_manifest("r", "t").digest, second.manifest);
  // A manifest deleted (and with it the tag on it).
  ours.get_manifest("r", first.manifest.str());
  theirs.delete_manifest("r", first.manifest.str());
  EXPECT_THROW(ours.get_manifest("r", first.manifest.str()), Error);
  theirs.delete_manifest("r", second.manifest.str());
  EXPECT_THROW(ours.get_manifest("r", "t"), Error);
  // A blob deleted.
  theirs.delete_blob("r", first.layer);
  EXPECT_THROW(ours.blob_size("r", first.layer), Error);
  // Nothing absent is cached: the blob back is seen at once.
  test::push_blob(theirs, "r", "layer");
  EXPECT_EQ(ours.blob_size("r", first.layer), 5u);

  // Without the channel's messages what is cached is kept by age (an hour here): the test above
  // saw the messages, not misses.
  channel.to = nullptr;
  auto third = push_image(theirs, "r", "t", "third layer");
  ours.get_manifest("r", "t");
  auto fourth = push_image(theirs, "r", "t", "fourth layer");
  EXPECT_EQ(ours.get_manifest("r", "t").digest, third.manifest);
  // Resubscribing drops everything cached: messages may have been missed.
  ours.set_listing_changes_live(false);
  ours.set_listing_changes_live(true);
  EXPECT_EQ(ours.get_manifest("r", "t").digest, fourth.manifest);
}

TEST(ReadCacheTest, WithoutMessagesEntriesLiveOnlyTheShortAge) {
  auto store = std::make_shared<storage::InMemoryDriver>();
  RegistryOptions options = cached_options();
  options.catalog_max_age = 100ms;  // no Redis: the caches' short age
  Registry theirs(std::make_shared<CountingDriver>(store), options);
  Registry ours(std::make_shared<CountingDriver>(store), options);
  push_image(theirs, "r", "t", "layer");
  ours.get_manifest("r", "t");
  auto moved = push_image(theirs, "r", "t", "another layer");
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(ours.get_manifest("r", "t").digest, moved.manifest);
}

// A read that started before a write and answers after it must not leave its old answer cached.
TEST(ReadCacheTest, AReadOlderThanAWriteDoesNotCacheItsAnswer) {
  auto counting = std::make_shared<CountingDriver>(std::make_shared<storage::InMemoryDriver>());
  storage::ReadCache cache(1 << 20, 100, 1h);
  ReadCachingDriver driver(counting, cache, nullptr);
  const std::string key = layout::tag_current_link("r", "t");
  driver.put_content(key, "old");
  counting->held_key = key;
  auto slow = std::async(std::launch::async, [&] { return driver.get_content(key); });
  counting->wait_until_holding();  // the slow read has "old" in hand
  driver.put_content(key, "new");
  counting->release();
  EXPECT_EQ(slow.get(), "old");
  counting->held_key.clear();
  EXPECT_EQ(driver.get_content(key), "new");
  counting->reads = 0;
  EXPECT_EQ(driver.get_content(key), "new");  // now cached
  EXPECT_EQ(counting->reads, 0u);
}

TEST(ReadCacheTest, ARemovedSubtreeDropsEverythingBelowIt) {
  auto counting = std::make_shared<CountingDriver>(std::make_shared<storage::InMemoryDriver>());
  storage::ReadCache cache(1 << 20, 100, 1h);
  ReadCachingDriver driver(counting, cache, nullptr);
  const std::string a = layout::tag_current_link("r", "a"),
                    ab = layout::tag_current_link("r", "ab");
  driver.put_content(a, "1");
  driver.put_content(ab, "2");
  driver.get_content(a);
  driver.get_content(ab);
  counting->remove(layout::tag_dir("r", "a"));  // behind the cache's back
  counting->remove(layout::tag_dir("r", "ab"));
  EXPECT_EQ(driver.get_content(a), "1");  // cached
  cache.invalidate(layout::tag_dir("r", "a"));
  EXPECT_EQ(driver.get_content(a), std::nullopt);
  EXPECT_EQ(driver.get_content(ab), "2");  // "a" is not a prefix of "ab"'s directory
  cache.invalidate(layout::tags_dir("r"));
  EXPECT_EQ(driver.get_content(ab), std::nullopt);
}

// Appending through append_writer changes the object like any writer: dropped at open and commit.
TEST(ReadCacheTest, AnAppendDropsTheObject) {
  auto counting = std::make_shared<CountingDriver>(std::make_shared<storage::InMemoryDriver>());
  storage::ReadCache cache(1 << 20, 100, 1h);
  ReadCachingDriver driver(counting, cache, nullptr);
  const std::string key = layout::tag_current_link("r", "a");
  EXPECT_EQ(driver.append_writer(key), nullptr);  // nothing there: nothing made
  driver.put_content(key, "1");
  EXPECT_EQ(driver.get_content(key), "1");
  auto writer = driver.append_writer(key);
  ASSERT_NE(writer, nullptr);
  writer->write("2", 1);
  writer->commit();
  EXPECT_EQ(driver.get_content(key), "12");
}

TEST(ReadCacheTest, BoundedByEntriesAndBytes) {
  auto counting = std::make_shared<CountingDriver>(std::make_shared<storage::InMemoryDriver>());
  storage::ReadCache cache(64 << 10, 3, 1h);
  ReadCachingDriver driver(counting, cache, nullptr);
  for (int i = 0; i < 5; ++i) {
    auto key = layout::tag_current_link("r", "t" + std::to_string(i));
    driver.put_content(key, "x");
    driver.get_content(key);
  }
  EXPECT_EQ(cache.counters().entries, 3u);
  // An object larger than the cache's object bound is served, not kept.
  const std::string big(cache.max_object_size() + 1, 'b');
  auto key = layout::blob_data("sha256", std::string(64, 'a'));
  driver.put_content(key, big);
  EXPECT_EQ(driver.get_content(key), big);
  counting->reads = 0;
  EXPECT_EQ(driver.get_content(key), big);
  EXPECT_EQ(counting->reads, 1u);
  EXPECT_LE(cache.counters().bytes, size_t{64 << 10});
}

TEST(ReadCacheTest, StoredChangesTravelInTheirOwnMessages) {
  auto stored = decode(encode({ListingChange::Kind::kStored, "", "/a/b"}, "o"));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->change.kind, ListingChange::Kind::kStored);
  EXPECT_EQ(stored->change.key, "/a/b");
  EXPECT_FALSE(decode(R"({"origin":"x","change":"stored","repository":"r"})"));
  // The older forms decode as before.
  auto tags = decode(R"({"origin":"x","change":"tags","repository":"r"})");
  ASSERT_TRUE(tags);
  EXPECT_EQ(tags->change.kind, ListingChange::Kind::kTags);
  EXPECT_EQ(tags->change.repository, "r");
}

}  // namespace
}  // namespace onsen::registry
