// The configuration loader: a YAML file and REGISTRY_* environment overrides, through the same
// load() the server calls at startup. The input is the file's text, then optionally a NUL byte and
// environment entries one per line ("STORAGE_DELETE_ENABLED=true"; REGISTRY_ is prepended when
// missing). Whatever the text, load() either returns a Config or throws ConfigError (which the
// server prints as one line, exit status 2); any other exception would abort the server.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "fuzz_check.h"

namespace {

// load() reads a path; an in-memory file keeps the fuzzer off the disk.
const std::string& config_path(int* fd_out) {
  static int fd = -1;
  static std::string path;
  if (fd < 0) {
    fd = memfd_create("onsen-fuzz-config", 0);
    FUZZ_CHECK(fd >= 0);
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  *fd_out = fd;
  return path;
}

std::vector<std::string> environment_entries(std::string_view text) {
  std::vector<std::string> entries;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (line.empty()) continue;
    entries.emplace_back(line.starts_with("REGISTRY_") ? std::string(line)
                                                       : "REGISTRY_" + std::string(line));
  }
  return entries;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view yaml = input.substr(0, nul);
  const std::vector<std::string> env = nul == std::string_view::npos
                                           ? std::vector<std::string>{}
                                           : environment_entries(input.substr(nul + 1));

  int fd = -1;
  const std::string& path = config_path(&fd);
  FUZZ_CHECK(ftruncate(fd, 0) == 0);
  FUZZ_CHECK(pwrite(fd, yaml.data(), yaml.size(), 0) == static_cast<ssize_t>(yaml.size()));

  std::vector<std::string> warnings;
  try {
    const onsen::config::Config cfg = onsen::config::load(path, env, &warnings);
    FUZZ_CHECK(cfg.http.net == "tcp" || cfg.http.net == "unix");
    // The driver name and its parameters are the storage layer's to judge (storage/factory.h).
    FUZZ_CHECK(cfg.http.drain_timeout.count() >= 0);
    FUZZ_CHECK(cfg.storage.upload_purging_age.count() >= 0);
    FUZZ_CHECK(cfg.storage.upload_purging_interval.count() >= 0);
    // The purger sleeps for the interval between runs: zero would make it spin.
    FUZZ_CHECK(!cfg.storage.upload_purging_enabled ||
               cfg.storage.upload_purging_interval.count() > 0);
  } catch (const onsen::config::ConfigError& e) {
    FUZZ_CHECK(e.what()[0] != '\0');
  }
  return 0;
}
