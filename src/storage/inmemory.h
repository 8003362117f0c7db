// The in-memory storage driver, for tests: objects in a std::map keyed by the full key, with
// directories implied by key prefixes ("/a" is a directory while some key starts with "/a/"; it
// vanishes with its last object, and "/" always exists). It follows FilesystemDriver's semantics,
// including key validation and the errors a filesystem would raise (storing under an object, or
// an object over a directory, throws), which the shared conformance suite checks.
//
// Objects behave like inodes: a Reader or Writer keeps the object it opened, so put_content or
// move over a key does not disturb a Reader of the old value. Readers have no native_fd() (-1).
//
// Thread-safe: one mutex guards the map, one per object guards its bytes (lock order: map, then
// object). Readers and Writers stay valid after the driver is destroyed.
#pragma once

#include <memory>
#include <string>

#include "storage/driver.h"

namespace onsen::storage {

class InMemoryDriver final : public Driver {
 public:
  InMemoryDriver();

  std::string name() const override { return "inmemory"; }
  // Not kDirectoryMtimeTracksChildren: a directory is as new as its newest object (see driver.h).
  unsigned capabilities() const override {
    return kCheapReads | kAtomicDirectoryMove | kPutLeavesNoDebris;
  }

  std::optional<std::string> get_content(const std::string& key) override;
  void put_content(const std::string& key, std::string_view content) override;
  std::unique_ptr<Reader> reader(const std::string& key, uint64_t offset) override;
  std::unique_ptr<Writer> writer(const std::string& key, bool append) override;
  std::unique_ptr<Writer> append_writer(const std::string& key) override;
  std::optional<FileInfo> stat(const std::string& key) override;
  // One lookup after the other: nothing waits for a disk.
  std::vector<std::optional<std::string>> get_contents(
      const std::vector<std::string>& keys) override;
  std::vector<std::optional<FileInfo>> stats(const std::vector<std::string>& keys) override;
  std::optional<std::vector<std::string>> list(const std::string& key) override;
  void move(const std::string& from, const std::string& to) override;
  bool remove(const std::string& key) override;

  struct State;  // the map and its mutex, shared with the Writers (which may cancel)

 private:
  std::shared_ptr<State> state_;
};

}  // namespace onsen::storage
