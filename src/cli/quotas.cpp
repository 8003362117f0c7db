#include "cli/quotas.h"

namespace onsen::cli {

registry::Quotas quotas_of(const config::Config& cfg) {
  std::vector<registry::Quota> rules;
  for (const auto& quota : cfg.quotas) rules.push_back({quota.repository, quota.bytes, quota.tags});
  return registry::Quotas(std::move(rules));
}

}  // namespace onsen::cli
