// FilesystemDriver specifics the conformance suite cannot see: the on-disk layout (root + key, as
// Distribution's filesystem driver), permissions, temp files and error messages.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "storage/filesystem.h"
#include "support/temp_dir.h"

namespace onsen::storage {
namespace {

namespace fs = std::filesystem;

class FilesystemDriverTest : public ::testing::Test {
 protected:
  // Every path under the root whose name starts with ".tmp-".
  std::vector<std::string> temp_files() const {
    std::vector<std::string> found;
    if (!fs::exists(root_)) return found;
    for (const auto& entry : fs::recursive_directory_iterator(root_)) {
      if (entry.path().filename().string().rfind(".tmp-", 0) == 0) {
        found.push_back(entry.path().string());
      }
    }
    return found;
  }

  static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static mode_t mode_of(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  test::TempDir dir_{"onsen-fs"};
  std::string root_ = dir_.path("root");  // does not exist until the first write
  FilesystemDriver driver_{root_};
};

TEST_F(FilesystemDriverTest, KeysMapUnderTheRoot) {
  driver_.put_content("/docker/registry/v2/blobs/sha256/ab/abcd/data", "blob");
  EXPECT_EQ(slurp(root_ + "/docker/registry/v2/blobs/sha256/ab/abcd/data"), "blob");

  fs::create_directories(root_ + "/made/outside");
  std::ofstream(root_ + "/made/outside/file") << "from disk";
  EXPECT_EQ(driver_.get_content("/made/outside/file"), "from disk");
}

TEST_F(FilesystemDriverTest, RootIsMadeAbsoluteAndNormalised) {
  FilesystemDriver trailing(root_ + "/");
  EXPECT_EQ(trailing.root_directory(), root_);
  FilesystemDriver relative("some/relative/dir");
  EXPECT_EQ(relative.root_directory(), (fs::current_path() / "some/relative/dir").string());
  EXPECT_THROW(FilesystemDriver(""), Error);
}

TEST_F(FilesystemDriverTest, NoTempFilesLeftBehind) {
  for (int i = 0; i < 50; ++i) driver_.put_content("/a/b/key", "value " + std::to_string(i));
  driver_.put_content("/a/dir/child", "x");
  EXPECT_THROW(driver_.put_content("/a/dir", "over a directory"), Error);  // rename fails
  EXPECT_TRUE(temp_files().empty()) << temp_files().front();
  EXPECT_EQ(driver_.get_content("/a/b/key"), "value 49");
}

TEST_F(FilesystemDriverTest, Permissions) {
  const mode_t old_umask = ::umask(022);
  driver_.put_content("/p/q/put", "x");
  driver_.writer("/p/q/written", false)->commit();
  ::umask(old_umask);
  EXPECT_EQ(mode_of(root_ + "/p/q/put"), 0644u);
  EXPECT_EQ(mode_of(root_ + "/p/q/written"), 0644u);
  EXPECT_EQ(mode_of(root_ + "/p/q"), 0755u);
  EXPECT_EQ(mode_of(root_ + "/p"), 0755u);
}

TEST_F(FilesystemDriverTest, ListShowsEverythingButDotEntries) {
  fs::create_directories(root_ + "/l");
  std::ofstream(root_ + "/l/.hidden") << "x";
  std::ofstream(root_ + "/l/.tmp-leftover") << "x";
  driver_.put_content("/l/visible", "x");
  auto names = driver_.list("/l");
  ASSERT_TRUE(names);
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{".hidden", ".tmp-leftover", "visible"}));
}

TEST_F(FilesystemDriverTest, ErrorsNameTheKeyButNotTheRoot) {
  driver_.put_content("/f", "file");
  try {
    driver_.put_content("/f/under", "x");
    FAIL() << "no exception";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("/f/under"), std::string::npos) << what;
    EXPECT_NE(what.find("Not a directory"), std::string::npos) << what;
    EXPECT_EQ(what.find(dir_.path()), std::string::npos) << what;
  }
}

TEST_F(FilesystemDriverTest, PermissionErrorsThrow) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores permissions";
  driver_.put_content("/locked/file", "x");
  fs::permissions(root_ + "/locked", fs::perms::none);
  EXPECT_THROW(driver_.get_content("/locked/file"), Error);
  EXPECT_THROW(driver_.put_content("/locked/other", "x"), Error);
  EXPECT_THROW(driver_.list("/locked"), Error);
  fs::permissions(root_ + "/locked", fs::perms::owner_all);
}

TEST_F(FilesystemDriverTest, SymlinkIsNotFollowedByStatOrRemove) {
  fs::create_directories(root_ + "/s");
  fs::create_directories(dir_.path() + "/outside");
  std::ofstream(dir_.path() + "/outside/keep") << "precious";
  fs::create_directory_symlink(dir_.path() + "/outside", root_ + "/s/link");
  auto info = driver_.stat("/s/link");
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->is_dir);
  EXPECT_TRUE(driver_.remove("/s"));
  EXPECT_EQ(slurp(dir_.path() + "/outside/keep"), "precious");
}

TEST_F(FilesystemDriverTest, SymlinkNamedByTheKeyIsRemovedItselfNotItsTarget) {
  fs::create_directories(root_ + "/s");
  fs::create_directories(dir_.path() + "/outside");
  std::ofstream(dir_.path() + "/outside/keep") << "precious";
  fs::create_directory_symlink(dir_.path() + "/outside", root_ + "/s/link");
  EXPECT_TRUE(driver_.remove("/s/link"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ + "/s/link")));
  EXPECT_EQ(slurp(dir_.path() + "/outside/keep"), "precious");
}

// More entries than one getdents64 buffer holds: list and remove read the directory to its end.
TEST_F(FilesystemDriverTest, ListAndRemoveLargeDirectories) {
  constexpr int kEntries = 1500;  // names of 64 characters: ~130 KiB of directory entries
  for (int i = 0; i < kEntries; ++i) {
    std::string name = std::to_string(i);
    name.resize(64, 'x');
    driver_.put_content_volatile("/big/" + name + (i % 2 ? "/link" : ""), "x");
  }
  auto names = driver_.list("/big");
  ASSERT_TRUE(names);
  EXPECT_EQ(names->size(), static_cast<size_t>(kEntries));
  EXPECT_EQ(driver_.list("/big/" + names->front() + "/nothing"), std::nullopt);
  EXPECT_TRUE(driver_.remove("/big"));
  EXPECT_FALSE(fs::exists(root_ + "/big"));
  EXPECT_FALSE(driver_.remove("/big"));
}

TEST_F(FilesystemDriverTest, ListOfAFileIsMissing) {
  driver_.put_content("/f", "x");
  EXPECT_EQ(driver_.list("/f"), std::nullopt);
  EXPECT_FALSE(driver_.remove("/f/under"));
  EXPECT_EQ(driver_.get_content("/f"), "x");
}

}  // namespace
}  // namespace onsen::storage
