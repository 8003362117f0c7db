// Retention policies (zot's retention, Harbor's tag retention, ECR lifecycle rules): which tags of
// a repository the collector deletes before it marks, and how long the repository's untagged
// manifests may stay. Applied by the garbage collector (registry/garbage_collector.h); a tag
// deleted here is an ordinary tag deletion, its manifest and blobs go in the same collection when
// nothing else keeps them.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace onsen::registry {

// Keeps some tags of a repository. Of the tags whose name matches one of `patterns` (whole-name
// ECMAScript regular expressions; none = every tag), it keeps those among the `most_recent` most
// recently pushed, and those pushed within `pushed_within`; with neither condition, every matching
// tag. (zot's keepTags: the conditions of one rule add up, any rule keeping a tag keeps it.)
struct KeepTagsRule {
  std::vector<std::string> patterns;
  std::optional<size_t> most_recent;
  std::optional<std::chrono::seconds> pushed_within;
};

struct RetentionPolicy {
  // Repository name globs (fnmatch(3) without flags: `*` matches any characters, `/` too).
  std::vector<std::string> repositories;
  // No rule: every tag is kept (the policy may still limit untagged manifests).
  std::vector<KeepTagsRule> keep_tags;
  // Untagged manifests (no tag, not a child of a kept index, not a referrer of a kept manifest)
  // older than this are deleted; unset: kept, as without --delete-untagged.
  std::optional<std::chrono::seconds> untagged_older_than;
};

// The first policy one of whose globs matches the repository, or nullptr: no retention there.
const RetentionPolicy* policy_for(const std::vector<RetentionPolicy>& policies,
                                  std::string_view repository);

// A tag and when it was last pushed (its current link's modification time).
struct PushedTag {
  std::string name;
  std::chrono::system_clock::time_point pushed;
};

// The tags the policy does not keep, sorted by name. Throws std::regex_error on a bad pattern
// (the configuration is checked when it loads: check_retention_patterns).
std::vector<std::string> tags_to_delete(const RetentionPolicy& policy,
                                        const std::vector<PushedTag>& tags,
                                        std::chrono::system_clock::time_point now);

// An error message for the first pattern that is not a valid regular expression, or nullopt.
std::optional<std::string> check_retention_patterns(const RetentionPolicy& policy);

}  // namespace onsen::registry
