#include "cli/check.h"

#include "cli/config_source.h"
#include "config/config.h"
#include "registry/checker.h"
#include "storage/factory.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>

namespace onsen::cli {

int check(const std::string& config_arg) {
  config::Config cfg;
  try {
    std::vector<std::string> warnings;
    cfg = load_checked(resolve_config_path(config_arg), environment(), warnings);
    for (auto& warning : warnings) std::cerr << "onsen: warning: " << warning << "\n";
  } catch (const config::ConfigError& e) {
    std::cerr << "onsen: configuration error: " << e.what() << "\n";
    return 2;
  }

  const auto started = std::chrono::steady_clock::now();
  try {
    auto driver = storage::make_driver(cfg.storage.driver, cfg.storage.parameters);
    registry::Checker checker(driver);
    auto summary = checker.run([](const std::string& key, const std::string& what) {
      fmt::print("problem: {}: {}\n", key, what);
      std::fflush(stdout);
    });
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    fmt::print(
        "onsen check: storage {} at {}: {} blobs ({} bytes) hashed, {} repositories, {} links, "
        "{} manifests, {} tags; {} problems ({:.2f} s)\n",
        cfg.storage.driver, storage::location(cfg.storage.driver, cfg.storage.parameters),
        summary.blobs, summary.blob_bytes, summary.repositories, summary.links, summary.manifests,
        summary.tags, summary.problems, seconds.count());
    return summary.problems == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print("problem: storage could not be read: {}\n", e.what());
    return 1;
  }
}

}  // namespace onsen::cli
