// Retention policies (see retention.h).
#include "registry/retention.h"

#include <fnmatch.h>

#include <algorithm>
#include <set>

namespace onsen::registry {

namespace {

std::vector<std::regex> compile(const std::vector<std::string>& patterns) {
  std::vector<std::regex> compiled;
  compiled.reserve(patterns.size());
  for (const auto& p : patterns) compiled.emplace_back(p, std::regex::ECMAScript);
  return compiled;
}

bool matches_any(const std::vector<std::regex>& patterns, const std::string& name) {
  if (patterns.empty()) return true;
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::regex& p) { return std::regex_match(name, p); });
}

// Adds to `kept` the tags the rule keeps.
void keep(const KeepTagsRule& rule, const std::vector<PushedTag>& tags,
          std::chrono::system_clock::time_point now, std::set<std::string>& kept) {
  const auto patterns = compile(rule.patterns);
  std::vector<const PushedTag*> matching;
  for (const auto& tag : tags) {
    if (matches_any(patterns, tag.name)) matching.push_back(&tag);
  }
  if (!rule.most_recent && !rule.pushed_within) {
    for (const PushedTag* tag : matching) kept.insert(tag->name);
    return;
  }
  if (rule.pushed_within) {
    for (const PushedTag* tag : matching) {
      if (now - tag->pushed <= *rule.pushed_within) kept.insert(tag->name);
    }
  }
  if (rule.most_recent) {
    // Newest first; equal times by name, so the same store always gives the same answer.
    std::sort(matching.begin(), matching.end(), [](const PushedTag* a, const PushedTag* b) {
      return a->pushed != b->pushed ? a->pushed > b->pushed : a->name < b->name;
    });
    const size_t n = std::min(*rule.most_recent, matching.size());
    for (size_t i = 0; i < n; ++i) kept.insert(matching[i]->name);
  }
}

}  // namespace

const RetentionPolicy* policy_for(const std::vector<RetentionPolicy>& policies,
                                  std::string_view repository) {
  const std::string name(repository);
  for (const auto& policy : policies) {
    for (const auto& glob : policy.repositories) {
      if (fnmatch(glob.c_str(), name.c_str(), 0) == 0) return &policy;
    }
  }
  return nullptr;
}

std::vector<std::string> tags_to_delete(const RetentionPolicy& policy,
                                        const std::vector<PushedTag>& tags,
                                        std::chrono::system_clock::time_point now) {
  if (policy.keep_tags.empty()) return {};
  std::set<std::string> kept;
  for (const auto& rule : policy.keep_tags) keep(rule, tags, now, kept);
  std::vector<std::string> deleted;
  for (const auto& tag : tags) {
    if (!kept.contains(tag.name)) deleted.push_back(tag.name);
  }
  std::sort(deleted.begin(), deleted.end());
  return deleted;
}

std::optional<std::string> check_retention_patterns(const RetentionPolicy& policy) {
  for (const auto& rule : policy.keep_tags) {
    for (const auto& pattern : rule.patterns) {
      try {
        std::regex(pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return "\"" + pattern + "\" is not a regular expression: " + e.what();
      }
    }
  }
  return std::nullopt;
}

}  // namespace onsen::registry
