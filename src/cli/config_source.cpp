#include "cli/config_source.h"

#include <cstdlib>
#include <filesystem>

#include "http/cipher_suites.h"
#include "storage/factory.h"

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

config::Config load_checked(const std::string& path,
                            const std::vector<std::string>& environ_entries,
                            std::vector<std::string>& warnings) {
  config::Config cfg = config::load(path, environ_entries, &warnings);
  try {
    for (const auto& name : storage::check_parameters(cfg.storage.driver, cfg.storage.parameters)) {
      warnings.push_back(cfg.unknown_key_warning("storage." + cfg.storage.driver + "." + name));
    }
  } catch (const storage::ParameterError& e) {
    throw cfg.error(
        e.parameter().empty() ? "storage" : "storage." + cfg.storage.driver + "." + e.parameter(),
        e.reason());
  }
  for (const auto& name : cfg.http.tls.cipher_suites) {
    if (!http::find_cipher_suite(name)) {
      throw cfg.error("http.tls.ciphersuites", "unknown cipher suite \"" + name + "\"");
    }
  }
  return cfg;
}

}  // namespace onsen::cli
