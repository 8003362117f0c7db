#include "storage/filesystem.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <system_error>
#include <thread>
#include <utility>

namespace onsen::storage {
namespace {

namespace fs = std::filesystem;

// Error for operation `op` on `key`; the message names the key and the system error only.
[[noreturn]] void fail(std::string_view op, const std::string& key, int err) {
  throw Error(std::string(op) + " " + key + ": " + std::generic_category().message(err),
              err == ENOSPC || err == EDQUOT);
}

bool is_missing(int err) {
  return err == ENOENT || err == ENOTDIR;
}

void reject_root(std::string_view op, const std::string& key) {
  validate_key(key);
  if (key == "/") throw Error(std::string(op) + " /: the root is not an object");
}

// The directory holding path ("/" for a top-level entry).
std::string parent_dir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::chrono::system_clock::time_point to_time_point(const struct timespec& ts) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

// Owns a file descriptor.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  // Closes now, returning 0 or the errno of close(2). EINTR counts as success: Linux has released
  // the descriptor either way.
  int close() {
    int fd = fd_;
    fd_ = -1;
    if (fd < 0 || ::close(fd) == 0 || errno == EINTR) return 0;
    return errno;
  }

 private:
  int fd_;
};

// one(i) for i in [0, n), results in order. A large batch is spread over threads so that many
// lookups wait for the disk at once (a cold lookup is a few dependent reads; one at a time,
// 10,000 of them took 3.5 s on the bench VM). Rethrows the exception of the lowest failing index.
template <class T, class F>
std::vector<T> batch(size_t n, F one) {
  constexpr size_t kPerThread = 32;  // below this, a thread costs more than it overlaps
  // Measured with bench/growth.py manifest-put on 2 cores: cold, 4 threads took 1.3 s, 8 took
  // 0.7 s and 16 or 64 no less; warm, 16 were slower than one thread and 8 were not.
  constexpr size_t kMaxThreads = 8;
  std::vector<T> out(n);
  const size_t threads = std::min(kMaxThreads, n / kPerThread);
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) out[i] = one(i);
    return out;
  }
  std::vector<std::exception_ptr> errors(n);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) {
      try {
        out[i] = one(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    pool.reserve(threads - 1);
    try {
      for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    } catch (const std::system_error&) {
      // No thread to spare (a process limit): those started, and this one, do all the work.
    }
    work();
  }
  for (auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return out;
}

void fsync_dir(const std::string& dir, const std::string& key) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) fail("open directory of", key, errno);
  // EINVAL: the filesystem cannot sync directories; nothing more can be done.
  if (::fsync(fd.get()) != 0 && errno != EINVAL) fail("fsync directory of", key, errno);
}

// mkdir -p, making each directory it creates durable in its parent.
void make_dirs(const std::string& dir, const std::string& key) {
  for (int attempt = 0;; ++attempt) {
    if (::mkdir(dir.c_str(), 0755) == 0) {
      fsync_dir(parent_dir(dir), key);
      return;
    }
    int err = errno;
    if (err == EEXIST) return;  // a file in the way shows up as ENOTDIR on the next call
    if (err != ENOENT || attempt > 0 || dir.size() <= 1) fail("create directories for", key, err);
    make_dirs(parent_dir(dir), key);
  }
}

// Writes all of buf at offset, across partial writes and EINTR.
void write_all(int fd, const char* buf, size_t n, uint64_t offset, std::string_view op,
               const std::string& key) {
  while (n > 0) {
    ssize_t written = ::pwrite(fd, buf, n, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      fail(op, key, errno);
    }
    buf += written;
    n -= static_cast<size_t>(written);
    offset += static_cast<uint64_t>(written);
  }
}

// Opens the regular file at path for reading; -1 when it is missing or a directory.
int open_object(const std::string& path, const std::string& key, std::string_view op,
                struct stat& st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (is_missing(errno)) return -1;
    fail(op, key, errno);
  }
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail(op, key, err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

class FileReader final : public Reader {
 public:
  FileReader(int fd, uint64_t size, std::string key) : fd_(fd), size_(size), key_(std::move(key)) {}

  size_t read(char* buf, size_t n) override {
    for (;;) {
      ssize_t got = ::read(fd_.get(), buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) fail("read", key_, errno);
    }
  }
  uint64_t size() const override { return size_; }
  int native_fd() const override { return fd_.get(); }

 private:
  UniqueFd fd_;
  uint64_t size_;
  std::string key_;
};

constexpr size_t kWritePiece = 64 * 1024;  // see FileWriter::write
// Written data is handed to the disk in windows of this size as it comes (see start_writeback).
constexpr uint64_t kWritebackWindow = 8 << 20;

class FileWriter final : public Writer {
 public:
  FileWriter(int fd, uint64_t size, std::string path, std::string key)
      : fd_(fd), size_(size), written_back_(size), path_(std::move(path)), key_(std::move(key)) {}

  void write(const char* buf, size_t n) override {
    require_open("write");
    // In pieces of kWritePiece: the page cache sizes its folios after the write, and large folios
    // proved several times more expensive to fill (bench machine, Linux 6.18 in a VM: 1 GiB in
    // 64 KiB writes took 0.25-0.45 s of CPU, in 256 KiB or 1 MiB writes 2.3-2.9 s).
    while (n > 0) {
      size_t piece = std::min(n, kWritePiece);
      write_all(fd_.get(), buf, piece, size_, "write", key_);
      size_ += piece;
      buf += piece;
      n -= piece;
    }
    if (size_ - written_back_ >= kWritebackWindow) start_writeback();
  }

  uint64_t size() const override { return size_; }

  void commit() override {
    require_open("commit");
    if (::fsync(fd_.get()) != 0) fail("fsync", key_, errno);
    state_ = State::kCommitted;
    if (int err = fd_.close()) fail("close", key_, err);
    // Always, not only when this writer created the file: an earlier writer of the same upload
    // may have created it and closed without syncing the directory.
    fsync_dir(parent_dir(path_), key_);
  }

  void close() override {
    if (state_ != State::kOpen) return;
    state_ = State::kClosed;
    // The tail too: a chunked push's PATCHes may each be shorter than a window.
    if (size_ > written_back_) start_writeback();
    if (int err = fd_.close()) fail("close", key_, err);
  }

  void cancel() override {
    if (state_ == State::kCancelled) return;
    state_ = State::kCancelled;
    fd_.close();
    if (::unlink(path_.c_str()) != 0 && !is_missing(errno)) fail("cancel", key_, errno);
  }

 private:
  enum class State { kOpen, kCommitted, kClosed, kCancelled };

  // Starts writing to disk what was written since the last call, without waiting for it. The
  // kernel would only start after 30 s or once a tenth of the memory is dirty, so commit()'s
  // fsync wrote all of a 1 GiB upload at its end (0.45 s of a 1.8 s push on the bench machine)
  // while the client waited; now it finds most of it on disk (same-run A/B, 1 GiB monolithic
  // push: 642 MB/s vs 495 without, medians of 4). Advisory: a failure here shows up at the
  // fsync, where it counts.
  void start_writeback() {
    (void)::sync_file_range(fd_.get(), static_cast<off_t>(written_back_),
                            static_cast<off_t>(size_ - written_back_), SYNC_FILE_RANGE_WRITE);
    written_back_ = size_;
  }

  void require_open(std::string_view op) const {
    if (state_ != State::kOpen) throw Error(std::string(op) + " " + key_ + ": writer is finished");
  }

  UniqueFd fd_;
  uint64_t size_;
  uint64_t written_back_;  // data below this offset has been handed to the disk
  std::string path_;
  std::string key_;
  State state_ = State::kOpen;
};

// Removal relative to directory descriptors, with the entry types readdir reports: a blob's
// directory goes in open, getdents, unlinkat, getdents, close, rmdir, with no stat and no path
// resolved twice (std::filesystem::remove_all stats every entry and walks full paths; a
// collection removes tens of thousands of small directories). Each returns 0 or an errno; what
// vanished meanwhile (removed by someone else) counts as removed.
int remove_entry(int dir_fd, const char* name, bool& removed_any);

// Removes everything in the directory open as fd (owned: closed here), keeping the directory.
int empty_directory(int fd, bool& removed_any) {
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    int err = errno;
    ::close(fd);
    return err;
  }
  int err = 0;
  for (;;) {
    errno = 0;
    const struct dirent* entry = ::readdir(dir);
    if (!entry) {
      err = errno;
      break;
    }
    const char* name = entry->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    if (entry->d_type == DT_DIR || entry->d_type == DT_UNKNOWN) {
      err = remove_entry(::dirfd(dir), name, removed_any);
    } else if (::unlinkat(::dirfd(dir), name, 0) == 0) {
      removed_any = true;
    } else if (errno != ENOENT) {
      err = errno;
    }
    if (err) break;
  }
  ::closedir(dir);
  return err;
}

// Removes the file or directory tree `name` (relative to dir_fd; AT_FDCWD with an absolute path).
// Opened as a directory first: what a collection removes is mostly directories.
int remove_entry(int dir_fd, const char* name, bool& removed_any) {
  int fd = ::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    // ENOTDIR: a file (or a parent is one: then unlinkat says ENOTDIR too, and nothing is there);
    // ELOOP: a symlink, which goes itself, not its target.
    if (errno != ENOTDIR && errno != ELOOP) return errno == ENOENT ? 0 : errno;
    if (::unlinkat(dir_fd, name, 0) == 0) {
      removed_any = true;
      return 0;
    }
    return is_missing(errno) ? 0 : errno;
  }
  if (int err = empty_directory(fd, removed_any)) return err;
  if (::unlinkat(dir_fd, name, AT_REMOVEDIR) == 0) {
    removed_any = true;
    return 0;
  }
  return is_missing(errno) ? 0 : errno;
}

}  // namespace

FilesystemDriver::FilesystemDriver(const std::string& root_directory) {
  if (root_directory.empty()) throw Error("filesystem driver: empty root directory");
  std::error_code ec;
  fs::path root = fs::absolute(root_directory, ec);
  if (ec) throw Error("filesystem driver: bad root directory: " + ec.message());
  root_ = root.lexically_normal().string();
  while (!root_.empty() && root_.back() == '/') root_.pop_back();
}

std::string FilesystemDriver::path(const std::string& key) const {
  validate_key(key);
  return root_ + key;
}

std::optional<std::string> FilesystemDriver::get_content(const std::string& key) {
  struct stat st;
  int raw = open_object(path(key), key, "get_content", st);
  if (raw < 0) return std::nullopt;
  UniqueFd fd(raw);
  std::string content;
  content.reserve(static_cast<size_t>(st.st_size));
  char buf[64 * 1024];
  for (;;) {
    ssize_t got = ::read(fd.get(), buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("get_content", key, errno);
    }
    if (got == 0) return content;
    content.append(buf, static_cast<size_t>(got));
  }
}

void FilesystemDriver::put_content(const std::string& key, std::string_view content) {
  store(key, content, true);
}

void FilesystemDriver::put_content_volatile(const std::string& key, std::string_view content) {
  store(key, content, false);
}

void FilesystemDriver::store(const std::string& key, std::string_view content, bool durable) {
  reject_root("put_content", key);
  const std::string target = path(key);
  const std::string dir = parent_dir(target);
  std::string temp;
  int raw = -1;
  for (int attempt = 0;; ++attempt) {
    temp = dir + "/.tmp-XXXXXX";
    raw = ::mkostemp(temp.data(), O_CLOEXEC);
    if (raw >= 0) break;
    // ENOENT: the directory is missing, or was removed concurrently after we created it.
    if (errno != ENOENT || attempt >= 3) fail("put_content", key, errno);
    // Always durable, even for a volatile put: a durable write may later rely on a directory
    // made here (a new repository's directory, first made for its first upload).
    make_dirs(dir, key);
  }
  UniqueFd fd(raw);
  try {
    if (::fchmod(fd.get(), 0644) != 0) fail("put_content", key, errno);
    write_all(fd.get(), content.data(), content.size(), 0, "put_content", key);
    if (durable && ::fsync(fd.get()) != 0) fail("put_content", key, errno);
    if (int err = fd.close()) fail("put_content", key, err);
    if (::rename(temp.c_str(), target.c_str()) != 0) fail("put_content", key, errno);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  if (durable) fsync_dir(dir, key);
}

std::unique_ptr<Reader> FilesystemDriver::reader(const std::string& key, uint64_t offset) {
  struct stat st;
  int raw = open_object(path(key), key, "reader", st);
  if (raw < 0) return nullptr;
  UniqueFd fd(raw);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (offset > size) {
    throw Error("reader " + key + ": offset " + std::to_string(offset) + " is past the end (" +
                std::to_string(size) + " bytes)");
  }
  // A new descriptor is at 0 already: one syscall fewer per manifest a collection reads.
  if (offset > 0 && ::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    fail("reader", key, errno);
  }
  return std::make_unique<FileReader>(fd.release(), size, key);
}

namespace {

// The Writer of a file just opened for writing (raw: its descriptor, owned from here).
std::unique_ptr<Writer> open_writer(int raw, const std::string& target, const std::string& key) {
  UniqueFd fd(raw);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) fail("writer", key, errno);
  if (S_ISDIR(st.st_mode)) fail("writer", key, EISDIR);
  return std::make_unique<FileWriter>(fd.release(), static_cast<uint64_t>(st.st_size), target, key);
}

}  // namespace

std::unique_ptr<Writer> FilesystemDriver::writer(const std::string& key, bool append) {
  reject_root("writer", key);
  const std::string target = path(key);
  for (int attempt = 0;; ++attempt) {
    int raw = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (raw < 0 && errno == EEXIST) {
      raw = ::open(target.c_str(), O_WRONLY | O_CLOEXEC | (append ? 0 : O_TRUNC));
    }
    if (raw < 0) {
      // ENOENT: a missing directory, or the file vanished between the two opens.
      if (errno != ENOENT || attempt >= 3) fail("writer", key, errno);
      make_dirs(parent_dir(target), key);
      continue;
    }
    return open_writer(raw, target, key);
  }
}

std::unique_ptr<Writer> FilesystemDriver::append_writer(const std::string& key) {
  reject_root("writer", key);
  const std::string target = path(key);
  int raw = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
  // No object there: nothing, or a directory.
  if (raw < 0 && (errno == ENOENT || errno == ENOTDIR || errno == EISDIR)) return nullptr;
  if (raw < 0) fail("writer", key, errno);
  return open_writer(raw, target, key);
}

std::optional<FileInfo> FilesystemDriver::stat(const std::string& key) {
  struct stat st;
  if (::lstat(path(key).c_str(), &st) != 0) {
    if (is_missing(errno)) return std::nullopt;
    fail("stat", key, errno);
  }
  FileInfo info;
  info.key = key;
  info.is_dir = S_ISDIR(st.st_mode);
  info.size = info.is_dir ? 0 : static_cast<uint64_t>(st.st_size);
  info.mod_time = to_time_point(st.st_mtim);
  return info;
}

std::vector<std::optional<std::string>> FilesystemDriver::get_contents(
    const std::vector<std::string>& keys) {
  return batch<std::optional<std::string>>(keys.size(),
                                           [&](size_t i) { return get_content(keys[i]); });
}

std::vector<std::optional<FileInfo>> FilesystemDriver::stats(const std::vector<std::string>& keys) {
  return batch<std::optional<FileInfo>>(keys.size(), [&](size_t i) { return stat(keys[i]); });
}

std::optional<std::vector<std::string>> FilesystemDriver::list(const std::string& key) {
  // getdents64 straight into a buffer: open, two getdents, close per directory, where opendir
  // adds an fcntl and an fstat (a collection lists a few directories per tag and repository).
  UniqueFd fd(::open(path(key).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (is_missing(errno)) return std::nullopt;
    fail("list", key, errno);
  }
  std::vector<std::string> names;
  alignas(8) char buf[32 * 1024];
  for (;;) {
    long got = ::syscall(SYS_getdents64, fd.get(), buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("list", key, errno);
    }
    if (got == 0) return names;
    for (long pos = 0; pos < got;) {
      // The kernel's struct linux_dirent64: ino, off, reclen, type, then the name.
      unsigned short reclen;
      std::memcpy(&reclen, buf + pos + 16, sizeof reclen);
      const char* name = buf + pos + 19;
      if (!(name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))) {
        names.emplace_back(name);
      }
      pos += reclen;
    }
  }
}

void FilesystemDriver::move(const std::string& from, const std::string& to) {
  reject_root("move", from);
  reject_root("move", to);
  const std::string source = path(from);
  const std::string target = path(to);
  const std::string what = from + " -> " + to;
  auto source_missing = [&] { throw Error("move " + what + ": source does not exist"); };
  struct stat st;
  if (::lstat(source.c_str(), &st) != 0) {
    if (is_missing(errno)) source_missing();
    fail("move", what, errno);
  }
  make_dirs(parent_dir(target), to);
  if (::rename(source.c_str(), target.c_str()) != 0) {
    if (errno == ENOENT && ::lstat(source.c_str(), &st) != 0) source_missing();
    fail("move", what, errno);
  }
  fsync_dir(parent_dir(target), to);
}

bool FilesystemDriver::remove(const std::string& key) {
  const std::string target = path(key);
  if (key == "/") {  // the root: empty it, keep it
    UniqueFd fd(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) {
      if (is_missing(errno)) return false;
      fail("remove", key, errno);
    }
    bool removed_any = false;
    if (int err = empty_directory(fd.release(), removed_any)) fail("remove", key, err);
    return removed_any;
  }
  bool removed_any = false;
  if (int err = remove_entry(AT_FDCWD, target.c_str(), removed_any)) {
    fail("remove", key, err);
  }
  return removed_any;
}

}  // namespace onsen::storage
