// The `quotas:` section of the configuration as the registry core's Quotas, for `onsen serve`
// (enforced) and `onsen du` (shown beside each repository's usage).
#pragma once

#include "config/config.h"
#include "registry/quotas.h"

namespace onsen::cli {

registry::Quotas quotas_of(const config::Config& cfg);

}  // namespace onsen::cli
