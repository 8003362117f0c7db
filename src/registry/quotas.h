// Storage quotas per repository glob (Harbor's project quotas; registry:2 has none): the limits
// a push must stay within. The first rule whose glob matches a repository's name is its quota; a
// repository no rule matches has none. Knows nothing of usage: UsageIndex checks against these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace onsen::registry {

struct Quota {
  std::string pattern;            // fnmatch glob without FNM_PATHNAME: "team-a/*" matches below
  std::optional<uint64_t> bytes;  // stored bytes, each blob linked into the repository once
  std::optional<uint64_t> tags;
};

class Quotas {
 public:
  Quotas() = default;
  explicit Quotas(std::vector<Quota> rules) : rules_(std::move(rules)) {}

  // The quota of `repository`, nullptr when no rule matches.
  const Quota* find(const std::string& repository) const;
  bool empty() const { return rules_.empty(); }

 private:
  std::vector<Quota> rules_;
};

}  // namespace onsen::registry
