// Where `onsen serve` and `onsen check` take their configuration from: Distribution's lookup order
// for the file and the process environment for the REGISTRY_* overrides.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace onsen::cli {

// The argument, else $REGISTRY_CONFIGURATION_PATH, else /etc/docker/registry/config.yml when it
// exists; "" means the embedded defaults.
std::string resolve_config_path(const std::string& arg);

// The process environment as "NAME=value" entries.
std::vector<std::string> environment();

// config::load(path, environ_entries), then the checks of the layers the configuration passes
// values through to: the storage driver's parameters (storage::check_parameters) and the cipher
// suite names (http/cipher_suites.h). Throws config::ConfigError (exit 2) naming the key or the
// variable; warnings (unknown keys, keys accepted and ignored) are appended to `warnings`.
config::Config load_checked(const std::string& path,
                            const std::vector<std::string>& environ_entries,
                            std::vector<std::string>& warnings);

}  // namespace onsen::cli
