#include "storage/factory.h"

#include <gtest/gtest.h>

#include <string>

#include "storage/filesystem.h"

namespace onsen::storage {
namespace {

TEST(MakeDriver, Filesystem) {
  auto driver =
      make_driver("filesystem", {{"rootdirectory", "/srv/registry"}, {"maxthreads", "100"}});
  ASSERT_TRUE(driver);
  EXPECT_EQ(driver->name(), "filesystem");
  auto* fs = dynamic_cast<FilesystemDriver*>(driver.get());
  ASSERT_NE(fs, nullptr);
  EXPECT_EQ(fs->root_directory(), "/srv/registry");
}

TEST(MakeDriver, FilesystemDefaultRoot) {
  auto driver = make_driver("filesystem", {});
  auto* fs = dynamic_cast<FilesystemDriver*>(driver.get());
  ASSERT_NE(fs, nullptr);
  EXPECT_EQ(fs->root_directory(), "/var/lib/registry");
  EXPECT_THROW(make_driver("filesystem", {{"rootdirectory", ""}}), Error);
}

TEST(CheckParameters, NamesTheRejectedParameter) {
  try {
    check_parameters("filesystem", {{"maxthreads", "-1"}});
    FAIL() << "no exception";
  } catch (const ParameterError& e) {
    EXPECT_EQ(e.parameter(), "maxthreads");
    EXPECT_EQ(e.reason(), "expected a non-negative integer, got \"-1\"");
  }
  try {
    check_parameters("s3", {{"bucket", "b"}});
    FAIL() << "no exception";
  } catch (const ParameterError& e) {
    EXPECT_EQ(e.parameter(), "region");
    EXPECT_EQ(e.reason(), "no region parameter provided");
  }
  try {
    check_parameters("gcs", {});
    FAIL() << "no exception";
  } catch (const ParameterError& e) {
    EXPECT_EQ(e.parameter(), "");
    EXPECT_EQ(e.reason(), "driver gcs is not supported yet");
  }
}

TEST(CheckParameters, ReturnsTheUnknownOnesWithoutTouchingTheBackend) {
  // A root that cannot exist: checking must not create it.
  EXPECT_EQ(check_parameters(
                "filesystem",
                {{"rootdirectory", "/proc/onsen-nope"}, {"maxthreads", "100"}, {"colour", "blue"}}),
            std::vector<std::string>{"colour"});
  EXPECT_EQ(check_parameters("inmemory", {{"rootdirectory", "/x"}}),
            std::vector<std::string>{"rootdirectory"});
  EXPECT_EQ(location("filesystem", {}), "/var/lib/registry");
}

TEST(MakeDriver, InMemory) {
  auto driver = make_driver("inmemory", {});
  ASSERT_TRUE(driver);
  EXPECT_EQ(driver->name(), "inmemory");
  driver->put_content("/x", "y");
  EXPECT_EQ(driver->get_content("/x"), "y");
}

TEST(MakeDriver, UnknownDriverIsNamed) {
  try {
    make_driver("s4", {});
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("s4"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace onsen::storage
