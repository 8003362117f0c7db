// onsen: a container registry, drop-in compatible with CNCF Distribution (registry:2).
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

  CLI11_PARSE(app, argc, argv);
  if (*serve) return onsen::cli::serve(config_path);
  return 0;
}
