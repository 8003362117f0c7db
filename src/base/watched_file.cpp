#include "base/watched_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace onsen::base {

namespace {

constexpr std::chrono::seconds kRacyWindow{2};  // see "racy" in watched_file.h

std::int64_t to_ns(const struct timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

FileStamp FileStamp::of(const struct stat& st) {
  FileStamp s;
  s.dev = static_cast<std::int64_t>(st.st_dev);
  s.ino = static_cast<std::int64_t>(st.st_ino);
  s.size = static_cast<std::int64_t>(st.st_size);
  s.mtime_ns = to_ns(st.st_mtim);
  s.ctime_ns = to_ns(st.st_ctim);
  return s;
}

FileStamp WatchedFile::stamp() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    FileStamp s;
    s.error = errno;
    return s;
  }
  return FileStamp::of(st);
}

void WatchedFile::accept(const FileStamp& stamp) {
  auto wall = wall_clock_ ? wall_clock_() : std::chrono::system_clock::now();
  std::int64_t wall_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch()).count();
  std::int64_t window_ns = std::chrono::nanoseconds(kRacyWindow).count();
  stamp_ = stamp;
  accepted_ = true;
  racy_ = wall_ns - stamp.mtime_ns < window_ns || wall_ns - stamp.ctime_ns < window_ns;
}

bool WatchedFile::read(std::string& bytes, FileStamp& stamp, std::string& error,
                       std::uint64_t max_size) const {
  // O_NONBLOCK: a FIFO at the path must not hang whoever triggered the reload.
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error = std::strerror(errno);
    return false;
  }
  bool ok = false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = "not a regular file";
  } else if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    error = "file too large";
  } else {
    stamp = FileStamp::of(st);
    bytes.clear();
    char buffer[16384];
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error = std::strerror(errno);
        break;
      }
      if (n == 0) {
        ok = true;
        break;
      }
      bytes.append(buffer, static_cast<std::size_t>(n));
      if (bytes.size() > max_size) {
        error = "file too large";
        break;
      }
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace onsen::base
