// WatchedFile: what counts as a change (in place, by rename, by a symlink swap), the racy rule,
// and reading.
#include "base/watched_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace onsen::base {
namespace {

namespace fs = std::filesystem;

class WatchedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "onsen-watched-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static void write(const std::string& p, const std::string& contents) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << contents;
  }
  // Reads and accepts, as an owner does after loading.
  static std::string load(WatchedFile& file) {
    std::string bytes, error;
    FileStamp stamp;
    EXPECT_TRUE(file.read(bytes, stamp, error)) << error;
    file.accept(stamp);
    return bytes;
  }
  // A wall clock a minute ahead: what was just written is not racy by it.
  static WatchedFile::WallClock later() {
    return [] { return std::chrono::system_clock::now() + std::chrono::minutes(1); };
  }

  fs::path dir_;
};

TEST_F(WatchedFileTest, ReadsAndNoticesInPlaceWrites) {
  write(path("f"), "one");
  WatchedFile file(path("f"), later());
  EXPECT_TRUE(file.may_have_changed(file.stamp()));  // never read
  EXPECT_EQ(load(file), "one");
  auto before = file.stamp();
  EXPECT_FALSE(file.may_have_changed(before));
  write(path("f"), "two!");
  auto after = file.stamp();
  EXPECT_NE(after, before);
  EXPECT_TRUE(file.may_have_changed(after));
}

TEST_F(WatchedFileTest, NoticesReplacementByRename) {
  write(path("f"), "same");
  WatchedFile file(path("f"), later());
  load(file);
  write(path("f.tmp"), "same");
  fs::rename(path("f.tmp"), path("f"));  // same size and bytes, new inode
  EXPECT_TRUE(file.may_have_changed(file.stamp()));
}

// Kubernetes mounts a secret as file -> ..data/file, ..data -> ..2024_01_01_v1; an update writes a
// new directory and swaps the ..data link.
TEST_F(WatchedFileTest, FollowsASymlinkSwap) {
  fs::create_directory(path("v1"));
  fs::create_directory(path("v2"));
  write(path("v1/cert"), "v1");
  write(path("v2/cert"), "v2");
  fs::create_directory_symlink("v1", path("..data"));
  fs::create_symlink("..data/cert", path("cert"));
  WatchedFile file(path("cert"), later());
  EXPECT_EQ(load(file), "v1");
  EXPECT_FALSE(file.may_have_changed(file.stamp()));
  fs::create_directory_symlink("v2", path("..data.new"));
  fs::rename(path("..data.new"), path("..data"));
  EXPECT_TRUE(file.may_have_changed(file.stamp()));
  EXPECT_EQ(load(file), "v2");
}

// Read less than 2 s after a write, a file is checked again even when its stamp is unchanged: a
// second write in the same timestamp tick would not show. Once older, an equal stamp is trusted.
TEST_F(WatchedFileTest, RacyReadsAreCheckedAgain) {
  auto now = std::chrono::system_clock::now();
  write(path("f"), "fresh");
  WatchedFile file(path("f"), [&now] { return now; });
  load(file);
  auto stamp = file.stamp();
  EXPECT_EQ(stamp, file.accepted());
  EXPECT_TRUE(file.may_have_changed(stamp));  // written just now
  now += std::chrono::milliseconds(1900);
  file.accept(stamp);
  EXPECT_TRUE(file.may_have_changed(stamp));  // still within 2 s of the write
  now += std::chrono::milliseconds(200);
  file.accept(stamp);
  EXPECT_FALSE(file.may_have_changed(stamp));  // old enough: an equal stamp is trusted
  // ctime counts as much as mtime (a chmod, a rename, a utimes that backdates mtime).
  auto backdated = stamp;
  backdated.mtime_ns -= 3'600'000'000'000;
  backdated.ctime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           (now - std::chrono::seconds(1)).time_since_epoch())
                           .count();
  file.accept(backdated);
  EXPECT_TRUE(file.may_have_changed(backdated));
}

TEST_F(WatchedFileTest, StampAndReadFailures) {
  WatchedFile missing(path("nope"));
  EXPECT_EQ(missing.stamp().error, ENOENT);
  std::string bytes, error;
  FileStamp stamp;
  EXPECT_FALSE(missing.read(bytes, stamp, error));
  EXPECT_FALSE(error.empty());

  WatchedFile dir(dir_.string());
  EXPECT_FALSE(dir.read(bytes, stamp, error));
  EXPECT_EQ(error, "not a regular file");

  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  WatchedFile fifo(path("fifo"));
  EXPECT_FALSE(fifo.read(bytes, stamp, error));  // does not block
  EXPECT_EQ(error, "not a regular file");

  write(path("big"), std::string(100, 'x'));
  WatchedFile big(path("big"));
  EXPECT_FALSE(big.read(bytes, stamp, error, 99));
  EXPECT_EQ(error, "file too large");
  EXPECT_TRUE(big.read(bytes, stamp, error, 100));
}

}  // namespace
}  // namespace onsen::base
