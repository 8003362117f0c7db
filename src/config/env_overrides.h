// REGISTRY_* environment overrides, applied to the configuration tree with Distribution's rules:
// REGISTRY_HTTP_TLS_CERTIFICATE=/c.pem sets http.tls.certificate.
#pragma once

#include <string>
#include <vector>

#include "config/tree.h"

namespace onsen::config {

// Applies every "REGISTRY_<PATH>=<value>" entry of `environ_entries` ("NAME=value" strings) to
// `root`, in sorted order of variable name (so REGISTRY_STORAGE is applied before
// REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY). REGISTRY_CONFIGURATION_PATH is not an override.
//
// <PATH> is split on "_"; each component names a mapping key, matched case-insensitively
// against the keys already present (a missing key is created in lowercase, and missing maps
// along the way are created), or, when purely numeric, an index into a list (an index equal to
// the list's length appends). The value is parsed as YAML: "true" is a boolean, "[a, b]" a list,
// "\"Onsen Registry\"" the string Onsen Registry; an empty value is null (the default).
//
// REGISTRY_STORAGE=<driver> selects the storage driver: the storage block's driver key is
// replaced and delete/maintenance/cache/redirect are kept. REGISTRY_AUTH=<provider> replaces
// the auth block with that provider. In both, an existing block for the same name is kept.
//
// A variable whose first component is not a top-level key of the format (REGISTRY_PORT) is
// skipped with a warning, as Distribution does.
//
// Every node an override creates is marked with the variable's name (ConfigNode::env).
// Overrides that cannot apply (a path through a scalar value, an empty component) are skipped
// with a warning. A malformed value or an index past the end of a list throws ConfigError naming
// the variable.
void apply_env_overrides(ConfigNode& root, const std::vector<std::string>& environ_entries,
                         std::vector<std::string>& warnings);

}  // namespace onsen::config
