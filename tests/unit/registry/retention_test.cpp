// Retention policies: which tags a policy keeps, and applying one to a stored repository.
#include "registry/retention.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace onsen::registry {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using Clock = std::chrono::system_clock;

const Clock::time_point kNow = Clock::now();

std::vector<PushedTag> tags_pushed_hours_ago(const std::vector<std::pair<std::string, int>>& ages) {
  std::vector<PushedTag> tags;
  for (const auto& [name, h] : ages) tags.push_back({name, kNow - hours(h)});
  return tags;
}

TEST(RetentionTest, PolicyForTakesTheFirstMatchingGlob) {
  std::vector<RetentionPolicy> policies(2);
  policies[0].repositories = {"team-a/*"};
  policies[1].repositories = {"*"};
  EXPECT_EQ(policy_for(policies, "team-a/web"), &policies[0]);
  EXPECT_EQ(policy_for(policies, "team-a/web/api"), &policies[0]);  // `*` crosses `/`
  EXPECT_EQ(policy_for(policies, "team-b"), &policies[1]);
  policies.pop_back();
  EXPECT_EQ(policy_for(policies, "team-b"), nullptr);
}

TEST(RetentionTest, NoRuleKeepsEveryTag) {
  RetentionPolicy policy;
  EXPECT_TRUE(tags_to_delete(policy, tags_pushed_hours_ago({{"a", 1}, {"b", 100}}), kNow).empty());
}

TEST(RetentionTest, MostRecentKeepsTheNewestOfTheMatchingTags) {
  RetentionPolicy policy;
  policy.keep_tags.push_back({{"v.*"}, 2, std::nullopt});
  auto tags = tags_pushed_hours_ago({{"v1", 30}, {"v2", 20}, {"v3", 10}, {"latest", 40}});
  // latest matches no rule: deleted; of v1..v3 the two newest stay.
  EXPECT_EQ(tags_to_delete(policy, tags, kNow), (std::vector<std::string>{"latest", "v1"}));
}

TEST(RetentionTest, RulesAddUp) {
  RetentionPolicy policy;
  policy.keep_tags.push_back({{"latest", "stable"}, std::nullopt, std::nullopt});  // by name
  policy.keep_tags.push_back({{}, 1, seconds(hours(24))});  // newest one, or pushed within 1 day
  auto tags = tags_pushed_hours_ago(
      {{"latest", 500}, {"stable", 400}, {"ci-1", 300}, {"ci-2", 30}, {"ci-3", 5}, {"ci-4", 2}});
  EXPECT_EQ(tags_to_delete(policy, tags, kNow), (std::vector<std::string>{"ci-1", "ci-2"}));
}

TEST(RetentionTest, PatternsMatchWholeNames) {
  RetentionPolicy policy;
  policy.keep_tags.push_back({{"v[0-9]+"}, std::nullopt, std::nullopt});
  auto tags = tags_pushed_hours_ago({{"v1", 1}, {"v1-rc", 1}, {"xv2", 1}});
  EXPECT_EQ(tags_to_delete(policy, tags, kNow), (std::vector<std::string>{"v1-rc", "xv2"}));
}

TEST(RetentionTest, BadPatternIsReported) {
  RetentionPolicy policy;
  policy.keep_tags.push_back({{"v[0-9"}, std::nullopt, std::nullopt});
  auto error = check_retention_patterns(policy);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("v[0-9"), std::string::npos);
}

}  // namespace
}  // namespace onsen::registry
