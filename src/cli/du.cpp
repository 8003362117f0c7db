#include "cli/du.h"

#include "api/admin_usage.h"
#include "cli/config_source.h"
#include "cli/quotas.h"
#include "config/config.h"
#include "registry/usage_index.h"
#include "storage/factory.h"

#include <fmt/format.h>

#include <iostream>

namespace onsen::cli {

namespace {

std::string quota_text(const registry::RepositoryUsage& repository) {
  if (!repository.quota) return "-";
  std::string text;
  if (repository.quota->bytes) text = registry::human_size(*repository.quota->bytes);
  if (repository.quota->tags) {
    text += (text.empty() ? "" : ",") + std::to_string(*repository.quota->tags) + " tags";
  }
  return text;
}

}  // namespace

int du(const DuOptions& options) {
  config::Config cfg;
  try {
    std::vector<std::string> warnings;
    cfg = load_checked(resolve_config_path(options.config_path), environment(), warnings);
    for (auto& warning : warnings) std::cerr << "onsen: warning: " << warning << "\n";
  } catch (const config::ConfigError& e) {
    std::cerr << "onsen: configuration error: " << e.what() << "\n";
    return 2;
  }
  try {
    registry::UsageIndex usage(storage::make_driver(cfg.storage.driver, cfg.storage.parameters),
                               quotas_of(cfg));
    usage.walk();
    auto report = usage.report(options.repositories);
    for (auto& name : options.repositories) {
      if (!usage.repository(name)) std::cerr << "onsen du: " << name << ": no such repository\n";
    }
    if (options.json) {
      fmt::print("{}\n", api::usage_json(report).dump(2));
      return 0;
    }
    fmt::print("{:>10} {:>10} {:>7} {:>6} {:>20}  {}\n", "SIZE", "SHARED", "BLOBS", "TAGS", "QUOTA",
               "REPOSITORY");
    for (auto& r : report.repositories) {
      fmt::print("{:>10} {:>10} {:>7} {:>6} {:>20}  {}\n", registry::human_size(r.bytes),
                 registry::human_size(r.shared_bytes), r.blobs, r.tags, quota_text(r), r.name);
    }
    fmt::print("{:>10} {:>10} {:>7} {:>6} {:>20}  total of the store (each blob once)\n",
               registry::human_size(report.total_bytes), "", report.total_blobs, "", "");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "onsen du: storage could not be read: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace onsen::cli
