// ForwardingDriver: every Driver call made on it reaches the wrapped driver as the same call (a
// method it forgot would fall back to Driver's default, e.g. put_content_volatile to put_content,
// or capabilities to none), and its results come back unchanged.
#include "storage/forwarding_driver.h"

#include "storage/inmemory.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace onsen::storage {
namespace {

// The wrapped driver: an InMemoryDriver that records which Driver method was called.
class RecordingDriver final : public ForwardingDriver {
 public:
  RecordingDriver() : ForwardingDriver(std::make_shared<InMemoryDriver>()) {}

  std::vector<std::string> calls;

  template <typename Method, typename... Args>
  auto record(const char* call, Method method, Args&&... args) {
    calls.emplace_back(call);
    return (target().*method)(std::forward<Args>(args)...);
  }

  std::string name() const override { return "recording"; }
  unsigned capabilities() const override { return kDirectoryMtimeTracksChildren; }
  std::optional<std::string> get_content(const std::string& key) override {
    return record("get_content", &Driver::get_content, key);
  }
  void put_content(const std::string& key, std::string_view content) override {
    record("put_content", &Driver::put_content, key, content);
  }
  void put_content_volatile(const std::string& key, std::string_view content) override {
    record("put_content_volatile", &Driver::put_content_volatile, key, content);
  }
  std::unique_ptr<Reader> reader(const std::string& key, uint64_t offset) override {
    return record("reader", &Driver::reader, key, offset);
  }
  std::unique_ptr<Reader> range_reader(const std::string& key, uint64_t offset,
                                       uint64_t length) override {
    return record("range_reader", &Driver::range_reader, key, offset, length);
  }
  std::unique_ptr<Writer> writer(const std::string& key, bool append) override {
    return record("writer", &Driver::writer, key, append);
  }
  std::unique_ptr<Writer> append_writer(const std::string& key) override {
    return record("append_writer", &Driver::append_writer, key);
  }
  std::optional<FileInfo> stat(const std::string& key) override {
    return record("stat", &Driver::stat, key);
  }
  std::vector<std::optional<std::string>> get_contents(
      const std::vector<std::string>& keys) override {
    return record("get_contents", &Driver::get_contents, keys);
  }
  std::vector<std::optional<FileInfo>> stats(const std::vector<std::string>& keys) override {
    return record("stats", &Driver::stats, keys);
  }
  std::optional<std::vector<std::string>> list(const std::string& key) override {
    return record("list", &Driver::list, key);
  }
  void move(const std::string& from, const std::string& to) override {
    record("move", &Driver::move, from, to);
  }
  bool remove(const std::string& key) override { return record("remove", &Driver::remove, key); }
  std::optional<std::string> url_for(const std::string& key, std::string_view method,
                                     std::chrono::seconds expiry) override {
    calls.emplace_back("url_for");
    return "https://example.test" + key + "?" + std::string(method) + "&" +
           std::to_string(expiry.count());
  }
};

TEST(ForwardingDriverTest, EveryCallReachesTheWrappedDriverAsItself) {
  auto recording = std::make_shared<RecordingDriver>();
  ForwardingDriver forwarding(recording);
  Driver& d = forwarding;
  d.put_content("/seed", "abc");

  struct Case {
    const char* call;
    std::function<void()> make_it;
  };
  const std::vector<Case> table = {
      {"get_content", [&] { EXPECT_EQ(d.get_content("/seed"), "abc"); }},
      {"put_content", [&] { d.put_content("/a/x", "1"); }},
      {"put_content_volatile", [&] { d.put_content_volatile("/a/y", "2"); }},
      {"reader", [&] { EXPECT_EQ(d.reader("/seed", 1)->size(), 3u); }},
      {"range_reader", [&] { EXPECT_EQ(d.range_reader("/seed", 1, 1)->size(), 3u); }},
      {"writer",
       [&] {
         auto w = d.writer("/w", false);
         w->write("zz", 2);
         w->commit();
       }},
      {"append_writer",
       [&] {
         auto w = d.append_writer("/w");
         w->write("!", 1);
         w->commit();
       }},
      {"stat", [&] { EXPECT_EQ(d.stat("/seed")->size, 3u); }},
      {"get_contents",
       [&] {
         EXPECT_EQ(d.get_contents({"/a/x", "/none"})[0], "1");
       }},
      {"stats", [&] { EXPECT_TRUE(d.stats({"/a"})[0]->is_dir); }},
      {"list", [&] { EXPECT_EQ(d.list("/a")->size(), 2u); }},
      {"move", [&] { d.move("/w", "/moved"); }},
      {"remove", [&] { EXPECT_TRUE(d.remove("/moved")); }},
      {"url_for",
       [&] {
         EXPECT_EQ(d.url_for("/seed", "HEAD", std::chrono::seconds(60)),
                   "https://example.test/seed?HEAD&60");
       }},
  };
  for (auto& c : table) {
    recording->calls.clear();
    c.make_it();
    EXPECT_EQ(recording->calls, std::vector<std::string>{c.call}) << c.call;
  }
  EXPECT_EQ(d.name(), "recording");
  EXPECT_EQ(d.capabilities(), unsigned{kDirectoryMtimeTracksChildren});
  EXPECT_EQ(recording->get_content("/moved"), std::nullopt);  // the effects are the target's
  EXPECT_EQ(recording->get_content("/a/y"), "2");
}

}  // namespace
}  // namespace onsen::storage
