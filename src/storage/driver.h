// The storage driver interface: bytes under string keys, nothing about registries.
//
// Keys are absolute, '/'-separated paths such as "/docker/registry/v2/blobs/sha256/ab/ab12.../data"
// (Distribution's key scheme, see layout.h). The interface is shaped after Distribution's
// StorageDriver so an object store (S3) can implement it too: no in-place modification of a stored
// object is assumed except appending through a Writer opened on an unfinished upload.
//
// Thread safety: a Driver is shared by all request threads and must be safe for concurrent use.
// Readers and Writers belong to one caller at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace onsen::storage {

// An I/O failure other than "not found" (permission, disk full, backend down, ...).
class Error : public std::runtime_error {
 public:
  Error(const std::string& what, bool no_space = false)
      : std::runtime_error(what), no_space_(no_space) {}
  // The backend did not answer, or kept answering "busy" (a network store's 5xx or throttling
  // after the driver's own retries): the client may retry later.
  struct Unavailable {};
  Error(const std::string& what, Unavailable) : std::runtime_error(what), unavailable_(true) {}
  // True when the backend ran out of space (ENOSPC/EDQUOT): the client may retry later.
  bool no_space() const { return no_space_; }
  bool unavailable() const { return unavailable_; }

 private:
  bool no_space_ = false;
  bool unavailable_ = false;
};

// Throws Error unless key is "/" or a sequence of "/<component>" where no component is empty, "."
// or "..", and the key holds no NUL and no backslash ("a/b", "/a/", "/a//b", "/a/../b" are all
// rejected). Every driver checks every key it is given, as defence in depth against path traversal;
// callers still build keys with layout.h from validated names.
inline void validate_key(std::string_view key) {
  bool ok = !key.empty() && key.front() == '/' && (key.size() == 1 || key.back() != '/') &&
            key.find('\0') == std::string_view::npos && key.find('\\') == std::string_view::npos;
  for (size_t pos = 1; ok && key.size() > 1 && pos <= key.size();) {
    size_t end = key.find('/', pos);
    if (end == std::string_view::npos) end = key.size();
    std::string_view component = key.substr(pos, end - pos);
    ok = !component.empty() && component != "." && component != "..";
    pos = end + 1;
  }
  if (ok) return;
  std::string shown;  // the key, with control bytes escaped so it is safe to log
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      shown += "\\x";
      shown += kHex[c >> 4];
      shown += kHex[c & 0xf];
    } else {
      shown += static_cast<char>(c);
    }
  }
  throw Error("invalid storage key \"" + shown + "\"");
}

struct FileInfo {
  std::string key;
  uint64_t size = 0;  // 0 for directories
  bool is_dir = false;
  std::chrono::system_clock::time_point mod_time;
};

// Sequential reader of one stored object, opened at an offset.
class Reader {
 public:
  virtual ~Reader() = default;
  // Reads up to n bytes; returns 0 at the end of the object. Throws Error on failure.
  virtual size_t read(char* buf, size_t n) = 0;
  // Total size of the object (not of what is left to read).
  virtual uint64_t size() const = 0;
  // For zero-copy transfer (sendfile): a file descriptor whose current file offset is the reader's
  // position, or -1 when the object is not a local file. The Reader keeps ownership.
  virtual int native_fd() const { return -1; }
};

// Writer of one object. Opened with append=false it starts an empty object; with append=true it
// continues an existing one (an unfinished upload). Bytes become durable at commit().
class Writer {
 public:
  virtual ~Writer() = default;
  virtual void write(const char* buf, size_t n) = 0;
  // The next n bytes written are sure to come (a request body of known length) unless writing
  // fails or the body breaks: a driver may send them on before all are here (s3: a part streamed
  // while it fills). A promise that does not hold costs time, never bytes.
  virtual void expect(uint64_t n) { (void)n; }
  // Bytes in the object so far, including those written before an append open.
  virtual uint64_t size() const = 0;
  // Makes everything written durable (fsync) and the object complete. No writes after.
  virtual void commit() = 0;
  // Flushes and releases the writer, leaving the object appendable (a later append open resumes).
  // Only an upload's files (layout::is_upload_file) may be left closed and uncommitted: a driver
  // that keeps such objects apart (s3) looks for them there only, so elsewhere they stay unseen.
  virtual void close() = 0;
  // Discards the object.
  virtual void cancel() = 0;
};

// Properties of a backend that callers may rely on, as bits of Driver::capabilities(). A cache
// built on one must have a correct fallback for drivers without it.
enum Capability : unsigned {
  // A directory's mod_time (stat) changes whenever a direct child is created or removed, also
  // when another process sharing the storage does it: true of POSIX filesystems, false of object
  // stores (S3 has no directories) and of the inmemory driver (a directory is as new as its
  // newest object, so removing an older child leaves it unchanged).
  kDirectoryMtimeTracksChildren = 1u << 0,
  // Reads of small objects and metadata (get_content, stat, list) are answered by the local kernel
  // (page cache, local disk) or memory in microseconds, so callers may make them on an I/O thread
  // rather than pay a hop to a thread pool. False of network stores.
  kCheapReads = 1u << 1,
  // move() of a directory is one step for readers, a rename: they find the whole directory at its
  // old key or at its new one, never part of it at either, also after a crash. False of S3, where
  // it is one copy per object.
  kAtomicDirectoryMove = 1u << 2,
  // put_content leaves nothing behind when it is interrupted, by a crash too: the key holds the
  // old object or the new one, and no other key changes. True of S3 (a PutObject is whole or not
  // at all) and of memory; false of the filesystem, whose temporary file stays beside the target
  // after a crash.
  kPutLeavesNoDebris = 1u << 3,
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;
  // The Capability bits this driver guarantees; none by default.
  virtual unsigned capabilities() const { return 0; }

  // Whole content of a small object; nullopt when there is no such object.
  virtual std::optional<std::string> get_content(const std::string& key) = 0;
  // Stores content atomically and durably (temp file, fsync, rename): readers see the old
  // content or the new, never a mix. Creates parent "directories" as needed.
  virtual void put_content(const std::string& key, std::string_view content) = 0;
  // put_content, atomic but not necessarily durable: a power loss may lose it (a process crash does
  // not). For state that may be lost, such as an unfinished upload's start time, where waiting for
  // the disk would only slow the request down. By default the same as put_content.
  virtual void put_content_volatile(const std::string& key, std::string_view content) {
    put_content(key, content);
  }
  // Reader positioned at offset; nullptr when there is no such object.
  virtual std::unique_ptr<Reader> reader(const std::string& key, uint64_t offset) = 0;
  // A reader for the caller that will read only `length` bytes from offset (a blob GET with a
  // Range): it may end there, so that a network store fetches only those bytes (one ranged GET)
  // instead of streaming on to the end. By default the plain reader, which reads on.
  virtual std::unique_ptr<Reader> range_reader(const std::string& key, uint64_t offset,
                                               uint64_t length) {
    (void)length;
    return reader(key, offset);
  }
  virtual std::unique_ptr<Writer> writer(const std::string& key, bool append) = 0;
  // writer(key, true) on an object that exists; nullptr, creating nothing, when none is at key.
  // One lookup where stat() then writer() make two (each a round trip on a network store), and
  // no window between them in which the object may go (an upload finished meanwhile).
  virtual std::unique_ptr<Writer> append_writer(const std::string& key) = 0;
  // nullopt when nothing exists at key.
  virtual std::optional<FileInfo> stat(const std::string& key) = 0;
  // get_content and stat of many keys in one call (a manifest's 10,000 layer links and blobs): one
  // result per key, in order, each what the single call returns; throws what the single call
  // throws for the first key that failed. A driver may overlap the lookups: when the metadata is
  // not cached each one waits for the disk, and the filesystem driver keeps many in flight.
  virtual std::vector<std::optional<std::string>> get_contents(
      const std::vector<std::string>& keys) = 0;
  virtual std::vector<std::optional<FileInfo>> stats(const std::vector<std::string>& keys) = 0;
  // Names (last path component, not full keys) of the direct children of a directory key,
  // unsorted; nullopt when the directory does not exist.
  virtual std::optional<std::vector<std::string>> list(const std::string& key) = 0;
  // Moves an object to a new key atomically, replacing what was there; durable on return.
  virtual void move(const std::string& from, const std::string& to) = 0;
  // Removes the object or the whole subtree at key; returns false when nothing was there.
  virtual bool remove(const std::string& key) = 0;
  // A URL at which a client may itself make `method` ("GET" or "HEAD") on the object at key for
  // `expiry` (Distribution's URLFor: a presigned S3 URL), so the registry can redirect it there
  // rather than carry the bytes; nullopt when the backend has no such URLs (a local disk).
  // Computed locally: the object's existence is not checked.
  virtual std::optional<std::string> url_for(const std::string& key, std::string_view method,
                                             std::chrono::seconds expiry) {
    (void)key, (void)method, (void)expiry;
    return std::nullopt;
  }
};

}  // namespace onsen::storage
