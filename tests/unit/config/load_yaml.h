// What the config tests that load whole files share: a YAML text loaded as a file (with REGISTRY_*
// entries), and the one-line error it fails with.
#pragma once

#include "config/config.h"
#include "support/temp_dir.h"

#include <string>
#include <vector>

namespace onsen::config {

inline Config load_yaml(const std::string& yaml, const std::vector<std::string>& env = {},
                        std::vector<std::string>* warnings = nullptr) {
  onsen::test::TempDir dir;
  return load(dir.write("config.yml", yaml), env, warnings);
}

// The ConfigError's message, or "(no error)".
inline std::string error_of(const std::string& yaml, const std::vector<std::string>& env = {}) {
  try {
    load_yaml(yaml, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace onsen::config
