// auth.htpasswd.throttle: Onsen's failed-login throttling keys, from the file and from REGISTRY_*.
#include <gtest/gtest.h>

#include "config/config.h"
#include "load_yaml.h"

namespace onsen::config {
namespace {

using namespace std::chrono_literals;
using onsen::test::TempDir;

constexpr const char* kHtpasswd = R"(version: 0.1
storage: inmemory
auth:
  htpasswd:
    realm: r
    path: /auth/htpasswd
)";

TEST(ThrottleConfig, DefaultsAreThirtyInThreeMinutesAndAHundredPerAddress) {
  std::vector<std::string> warnings;
  Config c = load_yaml(kHtpasswd, {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  ASSERT_TRUE(c.auth.htpasswd);
  EXPECT_EQ(c.auth.htpasswd->throttle.failures, 30u);
  EXPECT_EQ(c.auth.htpasswd->throttle.address_failures, 100u);
  EXPECT_EQ(c.auth.htpasswd->throttle.window, 180s);
}

TEST(ThrottleConfig, FromTheFile) {
  std::vector<std::string> warnings;
  Config c = load_yaml(std::string(kHtpasswd) +
                           "    throttle:\n      failures: 10\n      addressfailures: 50\n"
                           "      window: 90s\n",
                       {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.auth.htpasswd->throttle.failures, 10u);
  EXPECT_EQ(c.auth.htpasswd->throttle.address_failures, 50u);
  EXPECT_EQ(c.auth.htpasswd->throttle.window, 90s);
  // Turned off.
  c = load_yaml(std::string(kHtpasswd) + "    throttle: {failures: 0}\n");
  EXPECT_EQ(c.auth.htpasswd->throttle.failures, 0u);
  EXPECT_EQ(c.auth.htpasswd->throttle.address_failures, 100u);
  // An empty block keeps the defaults; sub-second windows round up.
  c = load_yaml(std::string(kHtpasswd) + "    throttle:\n");
  EXPECT_EQ(c.auth.htpasswd->throttle.failures, 30u);
  c = load_yaml(std::string(kHtpasswd) + "    throttle: {window: 1500ms}\n");
  EXPECT_EQ(c.auth.htpasswd->throttle.window, 2s);
}

TEST(ThrottleConfig, FromTheEnvironment) {
  Config c = load_yaml(kHtpasswd, {"REGISTRY_AUTH_HTPASSWD_THROTTLE_FAILURES=5",
                                   "REGISTRY_AUTH_HTPASSWD_THROTTLE_ADDRESSFAILURES=0",
                                   "REGISTRY_AUTH_HTPASSWD_THROTTLE_WINDOW=10m"});
  EXPECT_EQ(c.auth.htpasswd->throttle.failures, 5u);
  EXPECT_EQ(c.auth.htpasswd->throttle.address_failures, 0u);
  EXPECT_EQ(c.auth.htpasswd->throttle.window, 600s);
  // The classic env-only deployment, plus one variable that turns throttling off.
  onsen::test::TempDir dir;
  c = load(dir.write("config.yml", "version: 0.1\nstorage: inmemory\n"),
           {"REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=r",
            "REGISTRY_AUTH_HTPASSWD_PATH=/p", "REGISTRY_AUTH_HTPASSWD_THROTTLE_FAILURES=0"},
           nullptr);
  EXPECT_EQ(c.auth.htpasswd->throttle.failures, 0u);
  // The whole block as YAML.
  c = load_yaml(kHtpasswd, {"REGISTRY_AUTH_HTPASSWD_THROTTLE={failures: 7, window: 1m}"});
  EXPECT_EQ(c.auth.htpasswd->throttle.failures, 7u);
  EXPECT_EQ(c.auth.htpasswd->throttle.window, 60s);
}

TEST(ThrottleConfig, ErrorsNameTheKey) {
  std::string yaml = kHtpasswd;
  EXPECT_EQ(error_of(yaml + "    throttle: {failures: -1}\n"),
            "auth.htpasswd.throttle.failures: expected a non-negative integer, got \"-1\"");
  EXPECT_EQ(error_of(yaml + "    throttle: {addressfailures: many}\n"),
            "auth.htpasswd.throttle.addressfailures: expected a non-negative integer, got "
            "\"many\"");
  EXPECT_EQ(error_of(yaml + "    throttle: {window: 0s}\n"),
            "auth.htpasswd.throttle.window: expected a duration of at least 1s, got \"0s\"");
  EXPECT_TRUE(error_of(yaml + "    throttle: {window: 3}\n")
                  .starts_with("auth.htpasswd.throttle.window: expected a duration such as"));
  EXPECT_EQ(error_of(yaml + "    throttle: 30\n"),
            "auth.htpasswd.throttle: expected a map, got \"30\"");
  EXPECT_EQ(error_of(yaml, {"REGISTRY_AUTH_HTPASSWD_THROTTLE_FAILURES=lots"}),
            "REGISTRY_AUTH_HTPASSWD_THROTTLE_FAILURES: expected a non-negative integer, got "
            "\"lots\"");
  EXPECT_EQ(error_of(yaml, {"REGISTRY_AUTH_HTPASSWD_THROTTLE_WINDOW=0"}),
            "REGISTRY_AUTH_HTPASSWD_THROTTLE_WINDOW: expected a duration of at least 1s, got "
            "\"0\"");
}

TEST(ThrottleConfig, UnknownKeysWarn) {
  std::vector<std::string> warnings;
  load_yaml(std::string(kHtpasswd) + "    throttle: {bantime: 1h}\n", {}, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "unknown configuration key: auth.htpasswd.throttle.bantime");
}

}  // namespace
}  // namespace onsen::config
