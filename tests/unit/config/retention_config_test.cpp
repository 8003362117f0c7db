// storage.retention: the policies as written, and clear errors for what cannot be one.
#include <gtest/gtest.h>

#include "config/config.h"
#include "load_yaml.h"

namespace onsen::config {
namespace {

using namespace std::chrono_literals;

constexpr const char* kHead = R"(version: 0.1
storage:
  inmemory:
)";

TEST(RetentionConfig, UnsetHasNoPolicies) {
  Config c = load_yaml(kHead);
  EXPECT_FALSE(c.storage.retention.dry_run);
  EXPECT_TRUE(c.storage.retention.policies.empty());
}

TEST(RetentionConfig, PoliciesAsWritten) {
  Config c = load_yaml(std::string(kHead) + R"(  retention:
    dryrun: true
    policies:
      - repositories: ["team-a/*", "ci/*"]
        keeptags:
          - patterns: ["v[0-9]+", "latest"]
          - mostrecentlypushedcount: 5
            pushedwithin: 72h
        deleteuntaggedolderthan: 24h
      - repositories: "*"
)");
  const RetentionConfig& r = c.storage.retention;
  EXPECT_TRUE(r.dry_run);
  ASSERT_EQ(r.policies.size(), 2u);
  EXPECT_EQ(r.policies[0].repositories, (std::vector<std::string>{"team-a/*", "ci/*"}));
  ASSERT_EQ(r.policies[0].keep_tags.size(), 2u);
  EXPECT_EQ(r.policies[0].keep_tags[0].patterns, (std::vector<std::string>{"v[0-9]+", "latest"}));
  EXPECT_FALSE(r.policies[0].keep_tags[0].most_recently_pushed_count);
  EXPECT_EQ(r.policies[0].keep_tags[1].most_recently_pushed_count, 5u);
  EXPECT_EQ(r.policies[0].keep_tags[1].pushed_within, 72h);
  EXPECT_EQ(r.policies[0].delete_untagged_older_than, 24h);
  EXPECT_EQ(r.policies[1].repositories, std::vector<std::string>{"*"});
  EXPECT_TRUE(r.policies[1].keep_tags.empty());
  EXPECT_FALSE(r.policies[1].delete_untagged_older_than);
}

TEST(RetentionConfig, ErrorsNameTheKey) {
  EXPECT_EQ(error_of(std::string(kHead) + "  retention:\n    policies:\n      - keeptags: []\n"),
            "storage.retention.policies.0.repositories: required");
  EXPECT_NE(error_of(std::string(kHead) +
                     "  retention:\n    policies:\n      - repositories: [a]\n        keeptags:\n"
                     "          - patterns: [\"v[0-9\"]\n")
                .find("storage.retention.policies.0.keeptags.0.patterns: \"v[0-9\" is not a"),
            std::string::npos);
  EXPECT_EQ(error_of(std::string(kHead) + "  retention:\n    policies: yes\n"),
            "storage.retention.policies: expected a list, got \"yes\"");
}

}  // namespace
}  // namespace onsen::config
