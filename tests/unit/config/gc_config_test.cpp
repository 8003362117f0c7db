// storage.gc: Onsen's online garbage collection keys, from the file and from REGISTRY_*.
#include <gtest/gtest.h>

#include "config/config.h"
#include "load_yaml.h"

namespace onsen::config {
namespace {

using namespace std::chrono_literals;

constexpr const char* kMinimal = "version: 0.1\nstorage:\n  inmemory:\n";

TEST(GcConfig, DefaultsScheduleNothingWithAnHourOfGrace) {
  std::vector<std::string> warnings;
  Config c = load_yaml(kMinimal, {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.storage.gc.interval, 0s);
  EXPECT_EQ(c.storage.gc.grace, 1h);
  EXPECT_FALSE(c.storage.gc.window);
  EXPECT_FALSE(c.storage.gc.dry_run);
  EXPECT_FALSE(c.storage.gc.delete_untagged);
  EXPECT_TRUE(c.storage.gc.delete_referrers);
}

TEST(GcConfig, FromTheFile) {
  std::vector<std::string> warnings;
  Config c =
      load_yaml(std::string(kMinimal) +
                    "  gc:\n    interval: 6h\n    grace: 2h\n    window: \"22:30-05:00\"\n"
                    "    dryrun: true\n    deleteuntagged: yes\n    deletereferrers: false\n",
                {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.storage.driver, "inmemory");  // gc is an option, not a second driver
  EXPECT_EQ(c.storage.gc.interval, 6h);
  EXPECT_EQ(c.storage.gc.grace, 2h);
  ASSERT_TRUE(c.storage.gc.window);
  EXPECT_EQ(c.storage.gc.window->first, 22 * 60 + 30);
  EXPECT_EQ(c.storage.gc.window->second, 5 * 60);
  EXPECT_TRUE(c.storage.gc.dry_run);
  EXPECT_TRUE(c.storage.gc.delete_untagged);
  EXPECT_FALSE(c.storage.gc.delete_referrers);
}

TEST(GcConfig, FromTheEnvironment) {
  Config c = load_yaml(
      kMinimal, {"REGISTRY_STORAGE_GC_INTERVAL=1s", "REGISTRY_STORAGE_GC_GRACE=30m",
                 "REGISTRY_STORAGE_GC_WINDOW=01:00-02:00", "REGISTRY_STORAGE_GC_DRYRUN=true"});
  EXPECT_EQ(c.storage.gc.interval, 1s);
  EXPECT_EQ(c.storage.gc.grace, 30min);
  ASSERT_TRUE(c.storage.gc.window);
  EXPECT_EQ(c.storage.gc.window->first, 60);
  EXPECT_EQ(c.storage.gc.window->second, 120);
  EXPECT_TRUE(c.storage.gc.dry_run);
  // Replacing the driver from the environment keeps the gc block of the file.
  c = load_yaml(std::string(kMinimal) + "  gc:\n    interval: 1h\n",
                {"REGISTRY_STORAGE=filesystem"});
  EXPECT_EQ(c.storage.gc.interval, 1h);
}

TEST(GcConfig, BadValuesAreNamed) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "  gc:\n    interval: often\n"),
            "storage.gc.interval: expected a duration such as \"30s\", \"24h\" or \"1h30m\", got "
            "\"often\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "  gc:\n    window: \"25:00-03:00\"\n"),
            "storage.gc.window: expected a daily window \"HH:MM-HH:MM\" such as \"01:00-05:00\", "
            "got \"25:00-03:00\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "  gc:\n    window: \"1:00-3:00\"\n"),
            "storage.gc.window: expected a daily window \"HH:MM-HH:MM\" such as \"01:00-05:00\", "
            "got \"1:00-3:00\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "  gc:\n    window: \"03:00-03:00\"\n"),
            "storage.gc.window: the window \"03:00-03:00\" is empty (start = end)");
  EXPECT_EQ(error_of(kMinimal, {"REGISTRY_STORAGE_GC_DRYRUN=maybe"}),
            "REGISTRY_STORAGE_GC_DRYRUN: expected a boolean, got \"maybe\"");
  EXPECT_EQ(error_of(kMinimal, {"REGISTRY_STORAGE_GC_GRACE=-1h"}),
            "REGISTRY_STORAGE_GC_GRACE: expected a non-negative duration, got \"-1h\"");
}

TEST(GcConfig, AShortGraceOnAScheduleIsWarnedAbout) {
  std::vector<std::string> warnings;
  load_yaml(std::string(kMinimal) + "  gc:\n    interval: 1h\n    grace: 1m\n", {}, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("storage.gc.grace: 60s is below 10m"),
            std::string::npos)
      << warnings[0];
  warnings.clear();
  load_yaml(std::string(kMinimal) + "  gc:\n    grace: 0s\n", {}, &warnings);
  EXPECT_TRUE(warnings.empty());  // no schedule: the admin endpoint's runs choose their own
  load_yaml(std::string(kMinimal) + "  gc:\n    bogus: 1\n", {}, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "unknown configuration key: storage.gc.bogus");
}

}  // namespace
}  // namespace onsen::config
