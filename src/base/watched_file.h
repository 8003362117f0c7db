// A file the server reads once and re-reads when it changes: the htpasswd file (auth/) and the TLS
// certificate, key and client CAs (http/). Changes are noticed by polling stat(2) — on the caller's
// schedule, no thread — rather than inotify, because polling also follows a file replaced by rename
// and a Kubernetes-style "..data" symlink swap (stat follows symlinks), and costs one syscall.
//
// A file "may have changed" when its stamp (device, inode, size, mtime, ctime, to the nanosecond)
// differs from the one accepted, or when the accepted read was racy: the file had been modified
// less than 2 s before it was read, so a second write within the same timestamp tick (coarse on
// some filesystems) could leave the stamp unchanged. A racy file is re-read at each check until it
// is older than that (Git's "racy clean" rule).
//
// Not thread-safe: the owner serializes stamp/changed/accept (a mutex, a strand).
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace onsen::base {

// A cheap identity of one file's contents: stat(2) of device, inode, size, mtime and ctime; or
// the errno when stat fails. Equal stamps mean the contents are, in all likelihood, unchanged.
struct FileStamp {
  std::int64_t dev = 0, ino = 0, size = 0, mtime_ns = 0, ctime_ns = 0;
  int error = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;

  static FileStamp of(const struct stat& st);
};

class WatchedFile {
 public:
  // `wall_clock` judges raciness; empty: std::chrono::system_clock::now. Tests move it.
  using WallClock = std::function<std::chrono::system_clock::time_point()>;
  explicit WatchedFile(std::string path, WallClock wall_clock = {})
      : path_(std::move(path)), wall_clock_(std::move(wall_clock)) {}
  const std::string& path() const { return path_; }

  // stat(2) of the path now (following symlinks).
  FileStamp stamp() const;
  // True when contents stamped `now` may differ from the accepted ones (or none was accepted).
  bool may_have_changed(const FileStamp& now) const { return !accepted_ || racy_ || now != stamp_; }
  const FileStamp& accepted() const { return stamp_; }
  // The contents now in use were read at `stamp`: judged racy against the wall clock now.
  void accept(const FileStamp& stamp);

  // Reads the whole file, which must be a regular file of at most max_size bytes; `stamp` is that
  // of the file read (fstat of the open descriptor), for accept(). A FIFO at the path fails
  // instead of blocking. On failure returns false and sets `error` (strerror text).
  bool read(std::string& bytes, FileStamp& stamp, std::string& error,
            std::uint64_t max_size = 64 << 20) const;

 private:
  std::string path_;
  WallClock wall_clock_;
  FileStamp stamp_;
  bool accepted_ = false;
  bool racy_ = false;
};

}  // namespace onsen::base
