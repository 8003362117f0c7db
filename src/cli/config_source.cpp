#include "cli/config_source.h"

#include <cstdlib>
#include <filesystem>

extern char** environ;

namespace onsen::cli {

std::string resolve_config_path(const std::string& arg) {
  if (!arg.empty()) return arg;
  if (const char* env = std::getenv("REGISTRY_CONFIGURATION_PATH"); env && *env) return env;
  const char* image_default = "/etc/docker/registry/config.yml";
  std::error_code ec;
  if (std::filesystem::exists(image_default, ec)) return image_default;
  return "";
}

std::vector<std::string> environment() {
  std::vector<std::string> entries;
  for (char** e = environ; e && *e; ++e) entries.emplace_back(*e);
  return entries;
}

}  // namespace onsen::cli
