#include "cli/garbage_collect.h"
#include "cli/retention_policies.h"

#include "base/duration.h"
#include "cli/config_source.h"
#include "cli/logging.h"
#include "cli/storage_stack.h"
#include "config/config.h"
#include "registry/blob_store.h"
#include "registry/error.h"
#include "registry/garbage_collector.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <optional>

namespace onsen::cli {

namespace {

// The configuration, with log lines on standard error (standard output is the command's, as
// Distribution's logrus lines go to standard error); nullopt after printing a configuration error.
std::optional<config::Config> load_config(const std::string& config_arg) {
  try {
    std::vector<std::string> warnings;
    auto cfg = load_checked(resolve_config_path(config_arg), environment(), warnings);
    spdlog::set_default_logger(spdlog::stderr_color_mt("onsen-stderr"));
    configure_logging(cfg.log);
    for (auto& warning : warnings) spdlog::warn("{}", warning);
    return cfg;
  } catch (const config::ConfigError& e) {
    std::cerr << "onsen: configuration error: " << e.what() << "\n";
    return std::nullopt;
  }
}

}  // namespace

int garbage_collect(const std::string& config_arg, const GarbageCollectOptions& options) {
  auto grace = base::parse_go_duration(options.grace);
  if (!grace || grace->count() < 0) {
    std::cerr << "onsen: invalid --grace \"" << options.grace
              << "\": a duration such as 30m, 1h or 0\n";
    return 2;
  }
  auto cfg = load_config(config_arg);
  if (!cfg) return 2;
  if (grace->count() > 0 && *grace <= registry::BlobStore::kLinkRefreshAge) {
    spdlog::warn(
        "--grace {} is no longer than {} min: the untagged manifests of a push running "
        "meanwhile may be deleted (the push then fails); use more (30m, 1h)",
        options.grace, registry::BlobStore::kLinkRefreshAge.count());
  }
  try {
    StorageStack stack = open_storage(*cfg);
    registry::GcOptions gc;
    gc.dry_run = options.dry_run;
    gc.delete_untagged = options.delete_untagged;
    gc.grace = std::chrono::ceil<std::chrono::seconds>(*grace);
    gc.retention = retention_policies(cfg->storage.retention);
    gc.retention_dry_run = cfg->storage.retention.dry_run;
    // Without a grace window nothing else writes the store (Distribution's rule): its removals
    // may have the disk. (32 removed a bench store's 13,000 directories in a third of the time 8
    // took: on a filesystem mounted with discard each waits for the journal, not for a core.)
    if (gc.grace.count() == 0) gc.removal_threads = 32;
    if (!options.quiet) {
      gc.output = [](std::string_view line) { fmt::print("{}\n", line); };
    }
    gc.log = [](std::string_view line) { spdlog::info("{}", line); };
    registry::GarbageCollector collector(stack.registry->storage_driver(), std::move(gc),
                                         stack.registry->uncached_storage_driver());
    auto result = collector.run();
    std::fflush(stdout);
    spdlog::info(
        "garbage collection {}: {} repositories; {} tags (retention), {} manifests, {} blobs ({} "
        "bytes) and {} links {}; {:.2f} s",
        result.completed ? "completed" : "stopped", result.repositories, result.tags_deleted,
        result.manifests_deleted, result.blobs_deleted, result.bytes_freed, result.links_deleted,
        options.dry_run ? "eligible for deletion" : "deleted", result.duration.count());
    return result.completed ? 0 : 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::cerr << "failed to garbage collect: " << e.what() << "\n";
    return 1;
  }
}

int repository_delete(const std::string& name, const std::string& config_arg) {
  auto cfg = load_config(config_arg);
  if (!cfg) return 2;
  try {
    StorageStack stack = open_storage(*cfg);
    registry::GarbageCollector collector(stack.registry->storage_driver(), {},
                                         stack.registry->uncached_storage_driver());
    collector.delete_repository(name);
    spdlog::info("repository {} deleted; its blobs go at the next garbage collection", name);
    return 0;
  } catch (const registry::Error& e) {
    std::cerr << "onsen: repository " << name << ": " << e.what() << "\n";
    return e.code() == registry::ErrorCode::kNameInvalid ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "onsen: repository " << name << " could not be deleted: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace onsen::cli
