// Where `onsen serve` and `onsen check` take their configuration from: Distribution's lookup order
// for the file and the process environment for the REGISTRY_* overrides.
#pragma once

#include <string>
#include <vector>

namespace onsen::cli {

// The argument, else $REGISTRY_CONFIGURATION_PATH, else /etc/docker/registry/config.yml when it
// exists; "" means the embedded defaults.
std::string resolve_config_path(const std::string& arg);

// The process environment as "NAME=value" entries.
std::vector<std::string> environment();

}  // namespace onsen::cli
