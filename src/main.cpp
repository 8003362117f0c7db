// onsen: a container registry, drop-in compatible with CNCF Distribution (registry:2).
#include <CLI/CLI.hpp>

#include <string_view>
#include <vector>

#include "cli/check.h"
#include "cli/du.h"
#include "cli/garbage_collect.h"
#include "cli/htpasswd.h"
#include "cli/probe.h"
#include "cli/serve.h"

namespace {

// registry:2's entrypoint runs `registry serve "$@"` when its first argument is a .yml/.yaml path
// (compose files say `command: ["/etc/my.yml"]`), so `onsen CONFIG.yml` means `onsen serve
// CONFIG.yml`.
bool is_config_path(std::string_view arg) {
  return !arg.starts_with('-') && (arg.ends_with(".yml") || arg.ends_with(".yaml"));
}

}  // namespace

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

  onsen::cli::DuOptions du_options;
  auto* du = app.add_subcommand(
      "du",
      "Show the storage usage per repository (deduplicated, shared) and the total, from one "
      "walk of the storage");
  du->add_flag("--json", du_options.json, "Print the JSON of GET /admin/usage");
  du->add_option("args", du_options.repositories,
                 "Repositories to show (default: all), then optionally the configuration file "
                 "(a last argument ending in .yml or .yaml), looked up as for serve");
  // Distribution's `registry garbage-collect` flags (and 3.0's --quiet), plus --grace.
  onsen::cli::GarbageCollectOptions gc_options;
  auto* gc = app.add_subcommand(
      "garbage-collect",
      "Delete the manifests and blobs nothing references (Distribution's garbage-collect)");
  gc->add_flag("-d,--dry-run", gc_options.dry_run, "Do everything except remove the blobs");
  gc->add_flag("-m,--delete-untagged", gc_options.delete_untagged,
               "Delete manifests that are not currently referenced via tag");
  gc->add_flag("-q,--quiet", gc_options.quiet, "Silence output");
  gc->add_option("--grace", gc_options.grace,
                 "Keep what was written less than DURATION ago (30m, 2h); 0, the default, is "
                 "for a store no server writes to meanwhile");
  gc->add_option("config", config_path, "Configuration file, looked up as for serve");

  std::string repository_name;
  auto* repository = app.add_subcommand("repository", "Manage repositories in the storage");
  repository->require_subcommand(1);
  auto* repository_delete = repository->add_subcommand(
      "delete",
      "Delete a repository: its tags, manifests and links (its blobs go at the next "
      "garbage-collect)");
  repository_delete->add_option("name", repository_name, "Repository name")->required();
  repository_delete->add_option("config", config_path,
                                "Configuration file, looked up as for serve");

  onsen::cli::HtpasswdOptions htpasswd_options;
  auto* htpasswd = app.add_subcommand(
      "htpasswd",
      "Print a USER:bcrypt line for an htpasswd file (as `htpasswd -Bbn`); without -b the "
      "password is read from standard input, or prompted for twice on a terminal");
  htpasswd->add_flag("-b", htpasswd_options.batch, "Take the password from the command line");
  htpasswd->add_option("-C", htpasswd_options.cost, "bcrypt cost, 4 to 31")
      ->default_val(10)
      ->check(CLI::Range(4, 31));
  // Apache's -B (bcrypt), -n (print, do not update a file) and -i (read standard input) are what
  // this command always does: accepted so that `htpasswd -Bbn USER PASS` works verbatim.
  htpasswd->add_flag("-B,-n,-i")
      ->description("Accepted for Apache htpasswd compatibility (always so)");
  htpasswd->add_option("user", htpasswd_options.user, "User name")->required();
  auto* password =
      htpasswd->add_option("password", htpasswd_options.password, "Password (with -b)");

  onsen::cli::ProbeOptions probe_options;
  auto* probe = app.add_subcommand(
      "probe",
      "GET a URL (a container healthcheck without shell or curl): exit 0 on 2xx, 1 otherwise");
  probe->add_option("url", probe_options.url, "http:// or https:// URL")->required();
  probe->add_option("--timeout", probe_options.timeout,
                    "Deadline of the whole exchange, a duration (default 5s)");
  probe->add_flag("--insecure,-k", probe_options.insecure,
                  "https: accept any certificate (a self-signed one)");

  // Set after the subcommands, which would inherit it.
  app.footer(
      "onsen CONFIG.yml (a first argument ending in .yml or .yaml) is onsen serve CONFIG.yml");

  std::vector<std::string> args(argv, argv + argc);
  if (args.size() >= 2 && is_config_path(args[1])) args.insert(args.begin() + 1, "serve");
  std::vector<char*> arg_pointers;
  for (auto& a : args) arg_pointers.push_back(a.data());
  try {
    app.parse(static_cast<int>(arg_pointers.size()), arg_pointers.data());
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2, as in Apache's htpasswd and most Unix tools (CLI11's own codes are
    // above 100); --help and --version exit 0.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*serve) return onsen::cli::serve(config_path);
  if (*check) return onsen::cli::check(config_path);
  if (*du) {
    auto& names = du_options.repositories;
    if (!names.empty() && is_config_path(names.back())) {
      du_options.config_path = names.back();
      names.pop_back();
    }
    return onsen::cli::du(du_options);
  }
  if (*gc) return onsen::cli::garbage_collect(config_path, gc_options);
  if (*repository_delete) return onsen::cli::repository_delete(repository_name, config_path);
  if (*probe) return onsen::cli::probe(probe_options);
  if (*htpasswd) {
    htpasswd_options.password_given = password->count() > 0;
    return onsen::cli::htpasswd(htpasswd_options);
  }
  return 0;
}
