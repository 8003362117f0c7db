// onsen: a container registry, drop-in compatible with CNCF Distribution (registry:2).
#include "cli/check.h"
#include "cli/serve.h"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"Onsen: an OCI container registry, drop-in compatible with registry:2"};
  app.set_version_flag("--version", "onsen 0.1.0");
  app.require_subcommand(1);

  std::string config_path;
  auto* serve = app.add_subcommand("serve", "Serve the registry API");
  serve->add_option("config", config_path,
                    "Configuration file (Distribution's YAML format); default: "
                    "$REGISTRY_CONFIGURATION_PATH, then /etc/docker/registry/config.yml");

  auto* check = app.add_subcommand(
      "check", "Check the storage for consistency (read-only); exit 0 clean, 1 problems, 2 config");
  check->add_option("config", config_path,
                    "Configuration file, looked up as for serve (the storage it names is checked)");

  CLI11_PARSE(app, argc, argv);
  if (*serve) return onsen::cli::serve(config_path);
  if (*check) return onsen::cli::check(config_path);
  return 0;
}
