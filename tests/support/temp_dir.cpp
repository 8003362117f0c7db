#include "support/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace onsen::test {

TempDir::TempDir(std::string_view prefix, const std::filesystem::path& base) {
  std::string pattern = (base / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::path(std::string_view name) const {
  return (std::filesystem::path(path_) / name).string();
}

std::string TempDir::write(std::string_view name, std::string_view contents) const {
  std::string file = path(name);
  std::ofstream(file, std::ios::binary) << contents;
  return file;
}

}  // namespace onsen::test
