// TagStore on a driver whose directory move is not one step (S3's: a copy per object): a new tag
// must never be listed without its current link at any moment a crash could freeze, or a client
// lists a tag it cannot pull and `onsen check` reports "tag has no current link".
#include "registry/tag_store.h"

#include "registry/digest.h"
#include "storage/forwarding_driver.h"
#include "storage/inmemory.h"
#include "storage/layout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace onsen::registry {
namespace {

namespace layout = storage::layout;

constexpr const char* kRepo = "app";

// In-memory storage moving a directory one object at a time, index entries before the current
// link (an order S3's parallel copies may take), and saying so: no kAtomicDirectoryMove. After
// every object that lands it counts the tags listed without a current link.
class PerObjectMoveDriver : public storage::ForwardingDriver {
 public:
  PerObjectMoveDriver() : ForwardingDriver(std::make_shared<storage::InMemoryDriver>()) {}

  int listed_without_current = 0;

  unsigned capabilities() const override {
    return target().capabilities() & ~unsigned{storage::kAtomicDirectoryMove};
  }
  void put_content(const std::string& key, std::string_view content) override {
    target().put_content(key, content);
    count();
  }
  void move(const std::string& from, const std::string& to) override {
    if (auto info = target().stat(from); info && !info->is_dir) {
      target().move(from, to);
      count();
      return;
    }
    std::vector<std::string> keys;
    collect(from, keys);
    std::sort(keys.rbegin(), keys.rend());  // ".../index/..." before ".../current/link"
    for (const auto& key : keys) {
      target().move(key, to + key.substr(from.size()));
      count();
    }
  }

 private:
  void collect(const std::string& dir, std::vector<std::string>& keys) {
    for (const auto& name : target().list(dir).value_or(std::vector<std::string>{})) {
      auto info = target().stat(dir + "/" + name);
      if (info && info->is_dir) {
        collect(dir + "/" + name, keys);
      } else {
        keys.push_back(dir + "/" + name);
      }
    }
  }
  void count() {
    for (const auto& tag :
         target().list(layout::tags_dir(kRepo)).value_or(std::vector<std::string>{})) {
      if (!target().stat(layout::tag_current_link(kRepo, tag))) ++listed_without_current;
    }
  }
};

TEST(TagStoreTest, NewTagIsNeverListedWithoutCurrentLinkWhenDirectoryMovesAreCopies) {
  auto driver = std::make_shared<PerObjectMoveDriver>();
  TagStore tags(driver);
  auto a = *Digest::parse("sha256:" + std::string(64, 'a'));
  auto b = *Digest::parse("sha256:" + std::string(64, 'b'));

  tags.tag(kRepo, "v1", a);
  tags.tag(kRepo, "v1", b);  // an existing tag: index entry, then current link
  tags.tag(kRepo, "v2", b);

  EXPECT_EQ(driver->listed_without_current, 0);
  EXPECT_EQ(tags.resolve(kRepo, "v1"), b);
  EXPECT_EQ(tags.resolve(kRepo, "v2"), b);
  // The index records every digest the tag has named, as Distribution's does.
  for (const auto& d : {a, b}) {
    EXPECT_TRUE(driver->stat(layout::tag_index_link(kRepo, "v1", d.algorithm(), d.hex())));
  }
  EXPECT_TRUE(driver->stat(layout::tag_index_link(kRepo, "v2", b.algorithm(), b.hex())));
  EXPECT_TRUE(tags.untag(kRepo, "v2"));
  EXPECT_FALSE(tags.resolve(kRepo, "v2"));
}

}  // namespace
}  // namespace onsen::registry
