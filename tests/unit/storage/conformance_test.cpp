// The shared conformance suite: every storage driver must pass every test here. The drivers it
// runs against, and what each can do, are listed in drivers_under_test.h.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "drivers_under_test.h"
#include "storage/driver.h"

namespace onsen::storage {
namespace {

using test::DriverEnvs;
using test::EnvName;

template <typename Env>
class DriverConformance : public test::DriverTest<Env> {};
TYPED_TEST_SUITE(DriverConformance, DriverEnvs, EnvName);

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::vector<std::string> sorted(std::optional<std::vector<std::string>> names) {
  EXPECT_TRUE(names.has_value());
  if (!names) return {};
  std::sort(names->begin(), names->end());
  return *names;
}

std::string read_all(Reader& reader, size_t chunk = 7) {
  std::string out;
  std::string buf(chunk, '\0');
  while (size_t n = reader.read(buf.data(), buf.size())) out.append(buf.data(), n);
  return out;
}

std::string binary_value(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + 7) % 256);
  return s;
}

TYPED_TEST(DriverConformance, PutGetRoundTrip) {
  auto& d = *this->driver;
  d.put_content("/a/b/c", "hello");
  EXPECT_EQ(d.get_content("/a/b/c"), "hello");

  d.put_content("/empty", "");
  EXPECT_EQ(d.get_content("/empty"), "");

  const std::string big = binary_value(1 << 20);  // with NUL bytes and every byte value
  d.put_content("/big/data", big);
  EXPECT_EQ(d.get_content("/big/data"), big);
}

TYPED_TEST(DriverConformance, PutOverwrites) {
  auto& d = *this->driver;
  d.put_content("/k", "a much longer first value");
  d.put_content("/k", "short");
  EXPECT_EQ(d.get_content("/k"), "short");
  ASSERT_TRUE(d.stat("/k"));
  EXPECT_EQ(d.stat("/k")->size, 5u);
}

TYPED_TEST(DriverConformance, MissingKeys) {
  auto& d = *this->driver;
  d.put_content("/dir/file", "x");
  for (const std::string key : {"/nope", "/dir/nope", "/nope/deeper", "/dir/file/under-a-file"}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(d.get_content(key), std::nullopt);
    EXPECT_EQ(d.reader(key, 0), nullptr);
    EXPECT_EQ(d.stat(key), std::nullopt);
    EXPECT_EQ(d.list(key), std::nullopt);
    EXPECT_FALSE(d.remove(key));
  }
  // A directory is not an object.
  EXPECT_EQ(d.get_content("/dir"), std::nullopt);
  EXPECT_EQ(d.reader("/dir", 0), nullptr);
}

TYPED_TEST(DriverConformance, ListDirectChildrenOnly) {
  auto& d = *this->driver;
  d.put_content("/a/b/c", "1");
  d.put_content("/a/b/d/e", "2");
  d.put_content("/a/f", "3");
  d.put_content("/a/g.h/i", "4");
  d.put_content("/a-sibling", "5");
  d.put_content("/a.sibling/x", "6");

  EXPECT_EQ(sorted(d.list("/a")), (std::vector<std::string>{"b", "f", "g.h"}));
  EXPECT_EQ(sorted(d.list("/a/b")), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(sorted(d.list("/")), (std::vector<std::string>{"a", "a-sibling", "a.sibling"}));
  EXPECT_EQ(d.list("/a/f"), std::nullopt);  // a file is not a directory
  EXPECT_EQ(d.list("/missing"), std::nullopt);
}

TYPED_TEST(DriverConformance, StatFileVersusDirectory) {
  auto& d = *this->driver;
  const auto before = std::chrono::system_clock::now() - std::chrono::seconds(5);
  d.put_content("/s/file", "12345");

  auto file = d.stat("/s/file");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->key, "/s/file");
  EXPECT_FALSE(file->is_dir);
  EXPECT_EQ(file->size, 5u);
  EXPECT_GE(file->mod_time, before);
  EXPECT_LE(file->mod_time, std::chrono::system_clock::now() + std::chrono::seconds(5));

  auto dir = d.stat("/s");
  ASSERT_TRUE(dir);
  EXPECT_EQ(dir->key, "/s");
  EXPECT_TRUE(dir->is_dir);
  EXPECT_EQ(dir->size, 0u);
  EXPECT_GE(dir->mod_time, before);
}

TYPED_TEST(DriverConformance, ReaderAtOffset) {
  auto& d = *this->driver;
  const std::string value = binary_value(1000);
  d.put_content("/r", value);

  auto whole = d.reader("/r", 0);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->size(), 1000u);
  EXPECT_EQ(read_all(*whole), value);
  char c;
  EXPECT_EQ(whole->read(&c, 1), 0u);  // stays at the end

  auto tail = d.reader("/r", 990);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->size(), 1000u);  // the object's size, not what is left
  EXPECT_EQ(read_all(*tail, 4), value.substr(990));

  auto at_end = d.reader("/r", 1000);
  ASSERT_TRUE(at_end);
  EXPECT_EQ(at_end->read(&c, 1), 0u);

  EXPECT_THROW(d.reader("/r", 1001), Error);
}

TYPED_TEST(DriverConformance, ReaderWithoutNativeFdSaysMinusOne) {
  if (this->has(test::Capability::NativeFd)) GTEST_SKIP() << "the driver has a native fd";
  auto& d = *this->driver;
  d.put_content("/r", "0123456789");
  auto reader = d.reader("/r", 3);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->native_fd(), -1);
}

TYPED_TEST(DriverConformance, ReaderNativeFd) {
  ONSEN_REQUIRE_CAPABILITY(NativeFd);
  auto& d = *this->driver;
  d.put_content("/r", "0123456789");
  auto reader = d.reader("/r", 3);
  ASSERT_TRUE(reader);
  const int fd = reader->native_fd();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 3);
  char buf[4];
  ASSERT_EQ(reader->read(buf, 4), 4u);
  EXPECT_EQ(std::string(buf, 4), "3456");
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 7);
  // Reading from the fd directly (as sendfile would) advances the reader too.
  ASSERT_EQ(::read(fd, buf, 2), 2);
  ASSERT_EQ(reader->read(buf, 4), 1u);
  EXPECT_EQ(buf[0], '9');
}

TYPED_TEST(DriverConformance, WriterCommit) {
  auto& d = *this->driver;
  auto w = d.writer("/up/new/data", false);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->size(), 0u);
  w->write("abc", 3);
  w->write("", 0);
  w->write("defg", 4);
  EXPECT_EQ(w->size(), 7u);
  w->commit();
  EXPECT_EQ(w->size(), 7u);
  EXPECT_THROW(w->write("x", 1), Error);
  EXPECT_THROW(w->commit(), Error);
  w->close();  // no-op after commit
  EXPECT_EQ(d.get_content("/up/new/data"), "abcdefg");
  EXPECT_EQ(d.stat("/up/new/data")->size, 7u);
}

TYPED_TEST(DriverConformance, WriterAppendResumesAcrossInstances) {
  auto& d = *this->driver;
  {
    auto w = d.writer("/r/_uploads/1/data", false);
    w->write("hello ", 6);
    w->close();
    EXPECT_THROW(w->write("x", 1), Error);
  }
  EXPECT_EQ(d.get_content("/r/_uploads/1/data"), "hello ");  // visible though not committed
  {
    auto w = d.writer("/r/_uploads/1/data", true);
    EXPECT_EQ(w->size(), 6u);
    w->write("world", 5);
    // destroyed without close: same as close
  }
  {
    auto w = d.writer("/r/_uploads/1/data", true);
    EXPECT_EQ(w->size(), 11u);
    w->write("!", 1);
    EXPECT_EQ(w->size(), 12u);
    w->commit();
  }
  EXPECT_EQ(d.get_content("/r/_uploads/1/data"), "hello world!");
}

// A chunked upload whose appends land on three replicas (three Writers, on S3 three processes'
// worth of state in the bucket), with chunks below and above S3's 5 MiB part minimum and its
// 10 MiB default part size; between appends stat and a reader see exactly what was written.
TYPED_TEST(DriverConformance, WriterAppendsAcrossInstancesWithLargeAndSmallChunks) {
  auto& d = *this->driver;
  const std::string key = "/r/_uploads/big/data";
  d.writer(key, false)->close();
  std::string expected;
  const size_t chunks[] = {100, (6 << 20) + 1, 3 << 20, (12 << 20) + 7, 1, (5 << 20) - 1};
  int seed = 0;
  for (size_t size : chunks) {
    ++seed;  // each chunk starts elsewhere in the pattern
    std::string chunk = binary_value(size + seed).substr(seed);
    auto w = d.writer(key, true);
    ASSERT_EQ(w->size(), expected.size());
    // In pieces, as a request body arrives.
    for (size_t off = 0; off < chunk.size(); off += 1 << 20) {
      w->write(chunk.data() + off, std::min<size_t>(1 << 20, chunk.size() - off));
    }
    w->close();
    expected += chunk;
    auto info = d.stat(key);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->size, expected.size());
  }
  // A reader of the unfinished object (the registry's rehash), from an offset; appends go on.
  auto reader = d.reader(key, 5);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->size(), expected.size());
  EXPECT_TRUE(read_all(*reader, 1 << 20) == expected.substr(5));
  reader.reset();
  {
    auto w = d.writer(key, true);
    w->write("end", 3);
    expected += "end";
    w->commit();
  }
  auto whole = d.get_content(key);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->size(), expected.size());
  EXPECT_TRUE(*whole == expected);  // (not EXPECT_EQ: 27 MiB in a failure message)
}

// The registry opens an upload's data with append_writer: one lookup, and an upload whose data
// is gone (finished, cancelled) is not brought back as an empty object.
TYPED_TEST(DriverConformance, AppendWriterContinuesAnExistingObjectOnly) {
  auto& d = *this->driver;
  EXPECT_EQ(d.append_writer("/r/_uploads/none/data"), nullptr);
  EXPECT_EQ(d.stat("/r/_uploads/none/data"), std::nullopt);  // nothing created
  EXPECT_EQ(d.list("/r/_uploads/none"), std::nullopt);

  d.writer("/r/_uploads/2/data", false)->close();  // a new upload: empty
  {
    auto w = d.append_writer("/r/_uploads/2/data");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->size(), 0u);
    w->write("first ", 6);
    w->close();
  }
  {
    auto w = d.append_writer("/r/_uploads/2/data");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->size(), 6u);
    w->write("second", 6);
    w->commit();
  }
  EXPECT_EQ(d.get_content("/r/_uploads/2/data"), "first second");
  EXPECT_TRUE(d.remove("/r/_uploads/2"));
  EXPECT_EQ(d.append_writer("/r/_uploads/2/data"), nullptr);
  EXPECT_EQ(d.stat("/r/_uploads/2/data"), std::nullopt);
}

TYPED_TEST(DriverConformance, WriterTruncatesOrCreates) {
  auto& d = *this->driver;
  d.put_content("/w", "old content");
  auto w = d.writer("/w", false);
  EXPECT_EQ(w->size(), 0u);
  EXPECT_EQ(d.get_content("/w"), "");  // truncated at open
  w->write("new", 3);
  w->commit();
  EXPECT_EQ(d.get_content("/w"), "new");

  auto a = d.writer("/fresh/append", true);  // append to a missing object creates it
  EXPECT_EQ(a->size(), 0u);
  a->write("x", 1);
  a->commit();
  EXPECT_EQ(d.get_content("/fresh/append"), "x");
}

TYPED_TEST(DriverConformance, WriterCancel) {
  auto& d = *this->driver;
  auto w = d.writer("/c/data", false);
  w->write("abc", 3);
  w->cancel();
  EXPECT_EQ(d.get_content("/c/data"), std::nullopt);
  EXPECT_THROW(w->write("x", 1), Error);
  w->cancel();  // idempotent

  d.put_content("/c/existing", "keep?");
  auto a = d.writer("/c/existing", true);
  a->write("more", 4);
  a->cancel();  // discards the whole object, not only this writer's bytes
  EXPECT_EQ(d.stat("/c/existing"), std::nullopt);
}

TYPED_TEST(DriverConformance, MoveFile) {
  auto& d = *this->driver;
  d.put_content("/src/data", "payload");
  d.move("/src/data", "/dst/deep/er/data");  // creates the parents
  EXPECT_EQ(d.get_content("/src/data"), std::nullopt);
  EXPECT_EQ(d.get_content("/dst/deep/er/data"), "payload");

  d.put_content("/other", "replacement");
  d.move("/other", "/dst/deep/er/data");  // replaces
  EXPECT_EQ(d.get_content("/dst/deep/er/data"), "replacement");
  EXPECT_EQ(d.stat("/other"), std::nullopt);
}

TYPED_TEST(DriverConformance, MoveDirectory) {
  auto& d = *this->driver;
  d.put_content("/from/a", "1");
  d.put_content("/from/sub/b", "2");
  d.move("/from", "/to/here");
  EXPECT_EQ(d.list("/from"), std::nullopt);
  EXPECT_EQ(sorted(d.list("/to/here")), (std::vector<std::string>{"a", "sub"}));
  EXPECT_EQ(d.get_content("/to/here/sub/b"), "2");
}

TYPED_TEST(DriverConformance, MoveMissingSourceThrows) {
  auto& d = *this->driver;
  d.put_content("/present", "x");
  try {
    d.move("/absent/data", "/present");
    FAIL() << "move of a missing source did not throw";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "/absent/data")) << e.what();
    EXPECT_TRUE(contains(e.what(), "does not exist")) << e.what();
    EXPECT_FALSE(e.no_space());
  }
  EXPECT_EQ(d.get_content("/present"), "x");  // the target is untouched
}

TYPED_TEST(DriverConformance, Remove) {
  auto& d = *this->driver;
  d.put_content("/t/file", "1");
  d.put_content("/t/tree/a", "2");
  d.put_content("/t/tree/b/c", "3");

  EXPECT_TRUE(d.remove("/t/file"));
  EXPECT_EQ(d.stat("/t/file"), std::nullopt);
  EXPECT_FALSE(d.remove("/t/file"));

  EXPECT_TRUE(d.remove("/t/tree"));
  EXPECT_EQ(d.stat("/t/tree"), std::nullopt);
  EXPECT_EQ(d.get_content("/t/tree/b/c"), std::nullopt);
  EXPECT_FALSE(d.remove("/t/tree"));
  EXPECT_FALSE(d.remove("/never/was"));
}

TYPED_TEST(DriverConformance, RemoveRootEmptiesEverything) {
  auto& d = *this->driver;
  d.put_content("/x/y", "1");
  d.put_content("/z", "2");
  EXPECT_TRUE(d.remove("/"));
  EXPECT_EQ(d.get_content("/x/y"), std::nullopt);
  EXPECT_EQ(d.get_content("/z"), std::nullopt);
  d.put_content("/after", "still works");
  EXPECT_EQ(d.get_content("/after"), "still works");
}

TYPED_TEST(DriverConformance, FileDirectoryConflictsThrow) {
  ONSEN_REQUIRE_CAPABILITY(FileDirectoryConflicts);
  auto& d = *this->driver;
  d.put_content("/f", "file");
  d.put_content("/dir/child", "x");
  EXPECT_THROW(d.put_content("/f/under", "x"), Error);  // a file is not a directory
  EXPECT_THROW(d.writer("/f/under", false), Error);
  EXPECT_THROW(d.put_content("/dir", "x"), Error);  // over a directory
  EXPECT_THROW(d.writer("/dir", false), Error);
  EXPECT_THROW(d.move("/f", "/dir"), Error);
  EXPECT_THROW(d.put_content("/", "x"), Error);
  EXPECT_EQ(d.get_content("/f"), "file");
  EXPECT_EQ(d.get_content("/dir/child"), "x");
}

TYPED_TEST(DriverConformance, KeyValidationRejectsTraversal) {
  auto& d = *this->driver;
  d.put_content("/b", "secret");
  const std::vector<std::string> bad = {"",
                                        "a/b",
                                        "b",
                                        "/a/../b",
                                        "/..",
                                        "/../b",
                                        "/a//b",
                                        "//b",
                                        "/a/./b",
                                        "/.",
                                        "/a/",
                                        "/a/.",
                                        "/a\\..\\b",
                                        "/a\\b",
                                        std::string("/a\0b", 4),
                                        std::string("/\0", 2)};
  for (const auto& key : bad) {
    SCOPED_TRACE(::testing::PrintToString(key));
    EXPECT_THROW(d.get_content(key), Error);
    EXPECT_THROW(d.put_content(key, "x"), Error);
    EXPECT_THROW(d.reader(key, 0), Error);
    EXPECT_THROW(d.writer(key, false), Error);
    EXPECT_THROW(d.stat(key), Error);
    EXPECT_THROW(d.list(key), Error);
    EXPECT_THROW(d.move(key, "/moved"), Error);
    EXPECT_THROW(d.move("/b", key), Error);
    EXPECT_THROW(d.remove(key), Error);
  }
  EXPECT_EQ(d.get_content("/b"), "secret");
  // Dots inside a component are fine.
  d.put_content("/a/..b/c..d/.e", "ok");
  EXPECT_EQ(d.get_content("/a/..b/c..d/.e"), "ok");
}

TYPED_TEST(DriverConformance, ConcurrentPutContentLeavesOneWholeValue) {
  auto& d = *this->driver;
  constexpr int kThreads = 8;
  constexpr int kPutsPerThread = 125;  // 1000 in all
  // Thread t writes (t + 1) * 512 copies of the letter 'a' + t: any torn value is detectable.
  auto value_of = [](int t) { return std::string(static_cast<size_t>(t + 1) * 512, 'a' + t); };
  auto whole = [&](const std::string& v) {
    if (v.empty()) return false;
    int t = v[0] - 'a';
    return t >= 0 && t < kThreads && v == value_of(t);
  };

  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::thread observer([&] {  // concurrent reads see an old or a new value, never a mix
    while (!done) {
      if (auto v = d.get_content("/race/key"); v && !whole(*v)) ++torn;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      const std::string value = value_of(t);
      for (int i = 0; i < kPutsPerThread; ++i) d.put_content("/race/key", value);
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  observer.join();

  EXPECT_EQ(torn, 0);
  auto final_value = d.get_content("/race/key");
  ASSERT_TRUE(final_value);
  EXPECT_TRUE(whole(*final_value)) << "size " << final_value->size();
  EXPECT_EQ(sorted(d.list("/race")), std::vector<std::string>{"key"});  // no temp files left
}

// get_contents/stats answer, key for key and in order, what get_content/stat answer; 1,000 keys
// so that the filesystem driver spreads them over threads.
TYPED_TEST(DriverConformance, BatchLookupsMatchSingleLookups) {
  auto& d = *this->driver;
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    std::string key = "/batch/" + std::to_string(i % 7) + "/k" + std::to_string(i);
    switch (i % 4) {
      case 0:
        d.put_content(key, "value " + std::to_string(i));
        break;
      case 1:
        d.put_content(key + "/below", "x");
        break;  // key is a directory
      case 2:
        break;  // missing
      case 3:
        key = "/batch/0/k0/under-a-file";
        break;
    }
    keys.push_back(key);
  }
  auto contents = d.get_contents(keys);
  auto infos = d.stats(keys);
  ASSERT_EQ(contents.size(), keys.size());
  ASSERT_EQ(infos.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE(keys[i]);
    EXPECT_EQ(contents[i], d.get_content(keys[i]));
    auto single = d.stat(keys[i]);
    ASSERT_EQ(infos[i].has_value(), single.has_value());
    if (single) {
      EXPECT_EQ(infos[i]->key, keys[i]);
      EXPECT_EQ(infos[i]->is_dir, single->is_dir);
      EXPECT_EQ(infos[i]->size, single->size);
    }
  }
  EXPECT_EQ(contents[0], "value 0");
  EXPECT_TRUE(infos[1] && infos[1]->is_dir);
  EXPECT_EQ(infos[2], std::nullopt);
  EXPECT_TRUE(d.get_contents({}).empty());
  EXPECT_TRUE(d.stats({}).empty());

  keys[500] = "/batch/../escape";  // an invalid key fails the whole batch, as alone
  EXPECT_THROW(d.get_contents(keys), Error);
  EXPECT_THROW(d.stats(keys), Error);
}

TYPED_TEST(DriverConformance, ErrorsAreNotNoSpace) {
  ONSEN_REQUIRE_CAPABILITY(FileDirectoryConflicts);  // the failure it provokes
  auto& d = *this->driver;
  d.put_content("/f", "file");
  try {
    d.put_content("/f/under", "x");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_FALSE(e.no_space());
    EXPECT_TRUE(contains(e.what(), "/f/under")) << e.what();
  }
}

}  // namespace
}  // namespace onsen::storage
