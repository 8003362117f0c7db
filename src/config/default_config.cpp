#include "config/default_config.h"

namespace onsen::config {

std::string_view default_config_text() {
  // Generated from config/registry-default.yml: `static constexpr std::string_view kText = ...;`
#include "config/registry_default_yml.inc"
  return kText;
}

}  // namespace onsen::config
