// CatalogCache on its own: when it walks, what it serves meanwhile, and that nothing reported to
// it is lost to a concurrent walk.
#include "registry/catalog_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>

namespace onsen::registry {
namespace {

using namespace std::chrono_literals;
using Names = std::vector<std::string>;

// A walk over a settable list, counting its calls; optionally held until released.
struct FakeStorage {
  std::mutex mutex;
  Names repositories;
  std::atomic<int> walks{0};
  std::promise<void> entered;
  std::shared_future<void> release;  // when valid, walks wait for it

  CatalogCache::Walk walk() {
    return [this] {
      ++walks;
      if (release.valid()) {
        entered.set_value();
        release.wait();
      }
      std::lock_guard lock(mutex);
      return repositories;
    };
  }
};

TEST(CatalogCacheTest, WalksOnceWithinMaxAge) {
  FakeStorage storage;
  storage.repositories = {"b", "a"};
  CatalogCache cache(storage.walk(), 1h);
  EXPECT_EQ(cache.get()->names(), (Names{"a", "b"}));
  storage.repositories.push_back("c");  // another process: not seen within max_age
  EXPECT_EQ(cache.get()->names(), (Names{"a", "b"}));
  EXPECT_EQ(storage.walks, 1);
}

TEST(CatalogCacheTest, WalksAgainWhenOlderThanMaxAge) {
  FakeStorage storage;
  storage.repositories = {"a"};
  CatalogCache cache(storage.walk(), 50ms);
  EXPECT_EQ(cache.get()->size(), 1u);
  storage.repositories.push_back("b");
  std::this_thread::sleep_for(60ms);
  EXPECT_EQ(cache.get()->names(), (Names{"a", "b"}));
  EXPECT_EQ(storage.walks, 2);
}

TEST(CatalogCacheTest, AddedNamesShowWithoutAWalk) {
  FakeStorage storage;
  storage.repositories = {"m"};
  CatalogCache cache(storage.walk(), 1h);
  auto before = cache.get();
  cache.added("z");
  cache.added("a");
  cache.added("m");  // already there
  EXPECT_EQ(cache.get()->names(), (Names{"a", "m", "z"}));
  EXPECT_EQ(before->names(), (Names{"m"}));  // a list handed out never changes
  EXPECT_EQ(storage.walks, 1);
}

TEST(CatalogCacheTest, InvalidateMakesTheNextGetWalk) {
  FakeStorage storage;
  storage.repositories = {"a", "b"};
  CatalogCache cache(storage.walk(), 1h);
  cache.get();
  storage.repositories = {"b"};
  cache.invalidate();
  EXPECT_EQ(cache.get()->names(), (Names{"b"}));
  EXPECT_EQ(storage.walks, 2);
}

TEST(CatalogCacheTest, NameAddedDuringAWalkIsNotLost) {
  FakeStorage storage;
  storage.repositories = {"a"};
  std::promise<void> release;
  storage.release = release.get_future().share();
  CatalogCache cache(storage.walk(), 1h);
  auto walker = std::async(std::launch::async, [&] { return cache.get(); });
  storage.entered.get_future().wait();
  cache.added("new");  // the walk has already read the storage without it
  release.set_value();
  EXPECT_EQ(walker.get()->names(), (Names{"a", "new"}));
  EXPECT_EQ(cache.get()->names(), (Names{"a", "new"}));
  EXPECT_EQ(storage.walks, 1);
}

TEST(CatalogCacheTest, RemovalDuringAWalkMakesTheNextGetWalkAgain) {
  FakeStorage storage;
  storage.repositories = {"a", "gone"};
  std::promise<void> release;
  storage.release = release.get_future().share();
  CatalogCache cache(storage.walk(), 1h);
  auto walker = std::async(std::launch::async, [&] { return cache.get(); });
  storage.entered.get_future().wait();
  {
    std::lock_guard lock(storage.mutex);
    storage.repositories = {"a"};
  }
  cache.invalidate();
  release.set_value();
  walker.get();
  storage.release = {};
  EXPECT_EQ(cache.get()->names(), (Names{"a"}));
  EXPECT_EQ(storage.walks, 2);
}

TEST(CatalogCacheTest, StaleListIsServedWhileAnotherThreadWalks) {
  FakeStorage storage;
  storage.repositories = {"a"};
  CatalogCache cache(storage.walk(), 20ms);
  cache.get();
  std::this_thread::sleep_for(30ms);
  std::promise<void> release;
  storage.release = release.get_future().share();
  auto walker = std::async(std::launch::async, [&] { return cache.get(); });
  storage.entered.get_future().wait();
  // Too old, but a refresh is under way: answered at once, not after the walk.
  auto served = std::async(std::launch::async, [&] { return cache.get(); });
  EXPECT_EQ(served.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(served.get()->names(), (Names{"a"}));
  release.set_value();
  walker.get();
  EXPECT_EQ(storage.walks, 2);
}

TEST(CatalogCacheTest, FailedWalkIsRetried) {
  int calls = 0;
  CatalogCache cache(
      [&] {
        if (++calls == 1) throw std::runtime_error("storage down");
        return Names{"a"};
      },
      1h);
  EXPECT_THROW(cache.get(), std::runtime_error);
  EXPECT_EQ(cache.get()->names(), (Names{"a"}));
}

TEST(CatalogCacheTest, ConcurrentAddsAreEachVisibleToTheirWriterAtOnce) {
  FakeStorage storage;
  CatalogCache cache(storage.walk(), 1ms);  // walks often, racing the adds
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string name = "t" + std::to_string(t) + "/r" + std::to_string(i);
        {
          std::lock_guard lock(storage.mutex);  // the write, then the report, as the Registry does
          storage.repositories.push_back(name);
        }
        cache.added(name);
        if (!cache.get()->contains(name)) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(cache.get()->size(), size_t{kThreads * kPerThread});
}

}  // namespace
}  // namespace onsen::registry
