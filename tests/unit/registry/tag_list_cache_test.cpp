// TagListCache on its own: mtime revalidation, the settle margin, generations, the LRU bound.
#include "registry/tag_list_cache.h"

#include <gtest/gtest.h>

namespace onsen::registry {
namespace {

using namespace std::chrono_literals;
using Time = TagListCache::Time;

const Time kNow = Time(std::chrono::hours(500000));
const Time kOld = kNow - 1h;

std::shared_ptr<const NameListing> list(std::vector<std::string> names) {
  return std::make_shared<const NameListing>(std::move(names));
}

TEST(TagListCacheTest, HitOnlyWhileTheMtimeIsUnchanged) {
  TagListCache cache(8);
  EXPECT_EQ(cache.find("r", kOld), nullptr);
  auto names = list({"a", "b"});
  cache.store("r", kOld, kNow, cache.generation(), names);
  EXPECT_EQ(cache.find("r", kOld), names);
  EXPECT_EQ(cache.find("r", kOld + 1ns), nullptr);
  EXPECT_EQ(cache.find("other", kOld), nullptr);
}

TEST(TagListCacheTest, RecentMtimesAreNotTrusted) {
  TagListCache cache(8);
  // Modified within the settle margin: a second change in the same timestamp tick could follow.
  cache.store("r", kNow - TagListCache::kSettle + 1ms, kNow, cache.generation(), list({"a"}));
  EXPECT_EQ(cache.find("r", kNow - TagListCache::kSettle + 1ms), nullptr);
  cache.store("r", kNow + 1s, kNow, cache.generation(), list({"a"}));  // a clock ahead of ours
  EXPECT_EQ(cache.find("r", kNow + 1s), nullptr);
  cache.store("r", kNow - TagListCache::kSettle, kNow, cache.generation(), list({"a"}));
  EXPECT_NE(cache.find("r", kNow - TagListCache::kSettle), nullptr);
}

TEST(TagListCacheTest, WithoutMtimesAListServesForAFixedAge) {
  TagListCache cache(8);
  auto names = list({"a"});
  cache.store_listed("r", kNow, cache.generation(), names);
  EXPECT_EQ(cache.find_listed_since("r", kNow - 1s), names);
  EXPECT_EQ(cache.find_listed_since("r", kNow), names);
  EXPECT_EQ(cache.find_listed_since("r", kNow + 1ns), nullptr);  // too old: dropped
  EXPECT_EQ(cache.find_listed_since("r", kNow - 1s), nullptr);
  const auto generation = cache.generation();
  cache.invalidate("other");
  cache.store_listed("r", kNow, generation, names);  // raced an invalidation
  EXPECT_EQ(cache.find_listed_since("r", kNow - 1s), nullptr);
}

TEST(TagListCacheTest, StoreRacingAnInvalidationIsDropped) {
  TagListCache cache(8);
  auto generation = cache.generation();  // a reader starts...
  cache.invalidate("r");                 // ...a writer changes the tags meanwhile
  cache.store("r", kOld, kNow, generation, list({"stale"}));
  EXPECT_EQ(cache.find("r", kOld), nullptr);
}

TEST(TagListCacheTest, InvalidateDropsTheRepository) {
  TagListCache cache(8);
  cache.store("r", kOld, kNow, cache.generation(), list({"a"}));
  cache.store("s", kOld, kNow, cache.generation(), list({"b"}));
  cache.invalidate("r");
  EXPECT_EQ(cache.find("r", kOld), nullptr);
  EXPECT_NE(cache.find("s", kOld), nullptr);
  cache.invalidate_all();
  EXPECT_EQ(cache.find("s", kOld), nullptr);
}

TEST(TagListCacheTest, BoundedLeastRecentlyUsedFirst) {
  TagListCache cache(2);
  cache.store("a", kOld, kNow, cache.generation(), list({"1"}));
  cache.store("b", kOld, kNow, cache.generation(), list({"2"}));
  EXPECT_NE(cache.find("a", kOld), nullptr);  // b is now the least recently used
  cache.store("c", kOld, kNow, cache.generation(), list({"3"}));
  EXPECT_NE(cache.find("a", kOld), nullptr);
  EXPECT_EQ(cache.find("b", kOld), nullptr);
  EXPECT_NE(cache.find("c", kOld), nullptr);
  cache.store("c", kOld + 1s, kNow, cache.generation(), list({"3", "4"}));  // replaces
  EXPECT_EQ(cache.find("c", kOld + 1s)->size(), 2u);

  TagListCache disabled(0);
  disabled.store("a", kOld, kNow, disabled.generation(), list({"1"}));
  EXPECT_EQ(disabled.find("a", kOld), nullptr);
}

}  // namespace
}  // namespace onsen::registry
