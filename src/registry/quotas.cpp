#include "registry/quotas.h"

#include <fnmatch.h>

namespace onsen::registry {

const Quota* Quotas::find(const std::string& repository) const {
  for (const Quota& rule : rules_) {
    if (fnmatch(rule.pattern.c_str(), repository.c_str(), 0) == 0) return &rule;
  }
  return nullptr;
}

}  // namespace onsen::registry
