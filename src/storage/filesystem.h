// The filesystem storage driver: each key is a file (or directory) at root_directory + key, the
// layout Distribution's "filesystem" driver uses, so both can serve the same root.
//
// Durability: put_content writes a ".tmp-XXXXXX" file next to the target, fsyncs it, renames it
// over the target and fsyncs the directory (put_content_volatile: the same without those two
// fsyncs); move() fsyncs the target's directory; a Writer's commit() fsyncs the file and its
// directory. (Starting the writeback early with sync_file_range, so that commit() waits only for
// the tail, was measured: on the bench machine it made the writes themselves several times slower
// and cost more CPU than the fsync it saved.) Directories are created on demand (mode 0755, each
// new one made durable in its parent). The root directory itself is created lazily by the first
// write.
//
// Every key is checked with validate_key() before it touches a path. Error messages name the key
// (never the root directory) and the system error; ENOSPC/EDQUOT set Error::no_space().
//
// Thread-safe: the driver holds no mutable state; concurrent put_content of one key leaves one of
// the values whole (rename is atomic). Readers and Writers own one file descriptor each.
#pragma once

#include <string>

#include "storage/driver.h"

namespace onsen::storage {

class FilesystemDriver final : public Driver {
 public:
  // root_directory need not exist yet; a relative path is made absolute against the current
  // directory at construction. Throws Error when it is empty.
  explicit FilesystemDriver(const std::string& root_directory);

  std::string name() const override { return "filesystem"; }
  unsigned capabilities() const override {
    return kDirectoryMtimeTracksChildren | kCheapReads | kAtomicDirectoryMove;
  }
  const std::string& root_directory() const { return root_; }

  // Only regular files are objects: a directory's key reads as missing (nullopt / nullptr).
  std::optional<std::string> get_content(const std::string& key) override;
  void put_content(const std::string& key, std::string_view content) override;
  // put_content without the fsyncs of the file and its directory (directories it creates are still
  // made durable).
  void put_content_volatile(const std::string& key, std::string_view content) override;
  // The Reader's native_fd() is its file descriptor, positioned at the reader's position. Throws
  // Error when offset is past the end of the file.
  std::unique_ptr<Reader> reader(const std::string& key, uint64_t offset) override;
  // The object exists (empty, or truncated when append=false) from the moment the writer opens.
  // After commit(), close() is a no-op and write()/commit() throw; cancel() unlinks the file in any
  // state but the cancelled one. Destroying an unfinished Writer closes it (no fsync).
  std::unique_ptr<Writer> writer(const std::string& key, bool append) override;
  std::unique_ptr<Writer> append_writer(const std::string& key) override;
  // lstat: symlinks are not followed. mod_time is the file's mtime.
  std::optional<FileInfo> stat(const std::string& key) override;
  // Large batches run on up to 8 short-lived threads, so cold lookups overlap.
  std::vector<std::optional<std::string>> get_contents(
      const std::vector<std::string>& keys) override;
  std::vector<std::optional<FileInfo>> stats(const std::vector<std::string>& keys) override;
  // Every entry of the directory, including in-flight ".tmp-" files of put_content.
  std::optional<std::vector<std::string>> list(const std::string& key) override;
  // rename(2): a file replaces a file, a directory replaces an empty directory. Throws Error when
  // `from` does not exist.
  void move(const std::string& from, const std::string& to) override;
  // remove("/") empties the root directory but keeps it.
  bool remove(const std::string& key) override;

 private:
  std::string path(const std::string& key) const;
  void store(const std::string& key, std::string_view content, bool durable);

  std::string root_;  // absolute, without a trailing '/' (empty when the root is "/")
};

}  // namespace onsen::storage
