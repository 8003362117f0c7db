// storage.retention as the collector takes it (config -> registry::RetentionPolicy).
#pragma once

#include "config/config.h"
#include "registry/retention.h"

#include <vector>

namespace onsen::cli {

inline std::vector<registry::RetentionPolicy> retention_policies(
    const config::RetentionConfig& retention) {
  std::vector<registry::RetentionPolicy> policies;
  for (const auto& p : retention.policies) {
    registry::RetentionPolicy& policy = policies.emplace_back();
    policy.repositories = p.repositories;
    policy.untagged_older_than = p.delete_untagged_older_than;
    for (const auto& rule : p.keep_tags) {
      policy.keep_tags.push_back(
          {rule.patterns,
           rule.most_recently_pushed_count
               ? std::optional<size_t>(static_cast<size_t>(*rule.most_recently_pushed_count))
               : std::nullopt,
           rule.pushed_within});
    }
  }
  return policies;
}

}  // namespace onsen::cli
