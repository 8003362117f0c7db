// A scratch directory for one test, removed with everything in it when the test ends. The one
// temp-directory helper of the C++ tests (unit and e2e).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace onsen::test {

class TempDir {
 public:
  // mkdtemp("<base>/<prefix>-XXXXXX"); throws std::runtime_error when it cannot. base defaults to
  // the system's temporary directory; a test that needs a short path (a unix socket's 108 bytes)
  // passes "/tmp".
  explicit TempDir(std::string_view prefix = "onsen-test",
                   const std::filesystem::path& base = std::filesystem::temp_directory_path());
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // The path of `name` inside the directory.
  std::string path(std::string_view name) const;
  // Writes `contents` to the file `name` in the directory; returns its path.
  std::string write(std::string_view name, std::string_view contents) const;
  // Leaves the directory on disk when the test ends (to look at it after a failure).
  void keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace onsen::test
