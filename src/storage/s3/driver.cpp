#include "storage/s3/driver.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <future>
#include <thread>

#include "storage/layout.h"
#include "storage/s3/reader.h"
#include "storage/s3/writer.h"

namespace onsen::storage::s3 {
namespace {

// Runs fn(i) for i in [0, n) on up to `threads` threads; rethrows the exception of the lowest
// index that failed (what a sequential loop would have thrown first).
void parallel_for(size_t n, size_t threads, const std::function<void(size_t)>& fn) {
  threads = std::min(threads, n);
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::vector<std::exception_ptr> errors(n);
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < n;) {
        try {
          fn(i);
        } catch (...) {
          errors[i] = std::current_exception();
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// Lookups of many keys in flight at once: each is a round trip of its own.
constexpr size_t kBatchThreads = 16;

// Only an upload's files are left pending between Writers (the registry leaves a Writer
// uncommitted nowhere else), so a missing blob, link or tag costs no ListMultipartUploads.
bool may_be_pending(const std::string& key) {
  return layout::is_upload_file(key);
}

}  // namespace

S3Driver::S3Driver(DriverConfig config) : config_(std::move(config)), client_(config_.client) {}

std::string S3Driver::object_key(const std::string& key) const {
  std::string root = config_.root_directory;
  while (!root.empty() && root.back() == '/') root.pop_back();
  std::string k = root + key;
  size_t skip = k.find_first_not_of('/');
  return skip == std::string::npos ? std::string() : k.substr(skip);
}

std::string S3Driver::dir_prefix(const std::string& key) const {
  std::string k = object_key(key);
  // The root's object key already ends in '/' ("registry/"), or is "" (the whole bucket).
  return k.empty() || k.back() == '/' ? k : k + "/";
}

std::optional<std::string> S3Driver::get_content(const std::string& key) {
  validate_key(key);
  if (key == "/") return std::nullopt;
  const std::string k = object_key(key);
  auto content = client_.get(k);
  if (!content && may_be_pending(key) && complete_pending(client_, k)) content = client_.get(k);
  return content;
}

void S3Driver::put_content(const std::string& key, std::string_view content) {
  validate_key(key);
  if (key == "/") throw Error("cannot store an object at the root \"/\"");
  client_.put(object_key(key), content);
}

std::unique_ptr<Reader> S3Driver::reader(const std::string& key, uint64_t offset) {
  validate_key(key);
  if (key == "/") return nullptr;
  const std::string k = object_key(key);
  auto r = open_reader(client_, k, key, offset);
  // An unfinished upload kept pending (see writer.h) is readable once completed.
  if (!r && may_be_pending(key) && complete_pending(client_, k)) {
    r = open_reader(client_, k, key, offset);
  }
  return r;
}

std::unique_ptr<Reader> S3Driver::range_reader(const std::string& key, uint64_t offset,
                                               uint64_t length) {
  validate_key(key);
  if (key == "/") return nullptr;
  return open_reader(client_, object_key(key), key, offset, length);
}

std::unique_ptr<Writer> S3Driver::writer(const std::string& key, bool append) {
  validate_key(key);
  if (key == "/") throw Error("cannot write an object at the root \"/\"");
  return open_writer(client_, object_key(key), key,
                     append ? OpenMode::kAppend : OpenMode::kTruncate, writer_options());
}

std::unique_ptr<Writer> S3Driver::append_writer(const std::string& key) {
  validate_key(key);
  if (key == "/") throw Error("cannot write an object at the root \"/\"");
  return open_writer(client_, object_key(key), key, OpenMode::kAppendExisting, writer_options());
}

WriterOptions S3Driver::writer_options() const {
  return {.chunk_size = config_.chunk_size, .parts_in_flight = config_.parts_in_flight};
}

std::optional<FileInfo> S3Driver::stat(const std::string& key) {
  validate_key(key);
  if (key != "/") {
    if (auto info = client_.head(object_key(key))) {
      return FileInfo{key, info->size, false, info->mod_time};
    }
  }
  // A directory exists while an object is under its prefix; it is as new as that object (S3
  // keeps no time for a prefix).
  auto page = client_.list(dir_prefix(key), "", std::nullopt, 1);
  if (page.objects.empty()) {
    if (key == "/") return FileInfo{key, 0, true, {}};
    // An unfinished upload kept pending (see writer.h): its parts and tail.
    if (!may_be_pending(key)) return std::nullopt;
    if (auto pending = find_pending(client_, object_key(key), false)) {
      return FileInfo{key, pending->size(), false, pending->mod_time};
    }
    return std::nullopt;
  }
  return FileInfo{key, 0, true, page.objects.front().mod_time};
}

std::vector<std::optional<std::string>> S3Driver::get_contents(
    const std::vector<std::string>& keys) {
  for (const auto& key : keys) validate_key(key);
  std::vector<std::optional<std::string>> out(keys.size());
  parallel_for(keys.size(), kBatchThreads, [&](size_t i) { out[i] = get_content(keys[i]); });
  return out;
}

std::vector<std::optional<FileInfo>> S3Driver::stats(const std::vector<std::string>& keys) {
  for (const auto& key : keys) validate_key(key);
  std::vector<std::optional<FileInfo>> out(keys.size());
  parallel_for(keys.size(), kBatchThreads, [&](size_t i) { out[i] = stat(keys[i]); });
  return out;
}

std::optional<std::vector<std::string>> S3Driver::list(const std::string& key) {
  validate_key(key);
  const std::string prefix = dir_prefix(key);
  std::vector<std::string> names;
  std::optional<std::string> next;
  do {
    ListPage page = client_.list(prefix, "/", next);
    for (const auto& o : page.objects) names.push_back(o.key.substr(prefix.size()));
    for (const auto& p : page.prefixes) {
      names.push_back(p.substr(prefix.size(), p.size() - prefix.size() - 1));
    }
    next = std::move(page.next);
  } while (next);
  // No objects under a prefix: no directory (S3 has none), except the root, which always is.
  if (names.empty() && key != "/") return std::nullopt;
  return names;
}

std::vector<ObjectInfo> S3Driver::list_all(const std::string& prefix) {
  std::vector<ObjectInfo> all;
  std::optional<std::string> next;
  do {
    ListPage page = client_.list(prefix, "", next);
    for (auto& o : page.objects) all.push_back(std::move(o));
    next = std::move(page.next);
  } while (next);
  return all;
}

void S3Driver::copy_object(const std::string& from, const std::string& to, uint64_t size) {
  // Distribution's threshold weighs one CopyObject, which AWS copies byte by byte on one stream,
  // against parallel UploadPartCopy parts. A Ceph RGW copies an object within its bucket (same
  // placement and storage class: ours all have it) by reference: a new manifest sharing the RADOS
  // objects, whatever the size, while each UploadPartCopy writes its bytes again (64 MiB: 16 ms
  // against 300-450 ms on the test gateway, the most of a push's time). Encrypted, RGW
  // decrypts and encrypts again: a data copy, so the threshold decides as it does on AWS.
  const bool by_reference =
      config_.copy_by_reference && rgw_.load(std::memory_order_relaxed) && !config_.client.encrypt;
  if (size <= config_.copy_threshold_size || (by_reference && size <= kMaxPartSize)) {
    client_.copy(from, to);
    return;
  }
  // Multipart copy, as Distribution's driver: parts of copy_chunk_size, several in flight.
  const std::string upload_id = client_.create_multipart(to);
  const uint64_t chunk = config_.copy_chunk_size;
  const size_t n = static_cast<size_t>((size + chunk - 1) / chunk);
  std::vector<Part> parts(n);
  try {
    parallel_for(n, static_cast<size_t>(std::min<uint64_t>(config_.copy_max_concurrency, 64)),
                 [&](size_t i) {
                   uint64_t first = i * chunk, last = std::min(size, first + chunk) - 1;
                   int number = static_cast<int>(i) + 1;
                   parts[i] = {number,
                               client_.upload_part_copy(to, upload_id, number, from, first, last),
                               last - first + 1};
                 });
    client_.complete_multipart(to, upload_id, parts);
  } catch (...) {
    try {
      client_.abort_multipart(to, upload_id);
    } catch (...) {
    }
    throw;
  }
}

void S3Driver::move(const std::string& from, const std::string& to) {
  validate_key(from);
  validate_key(to);
  if (from == "/" || to == "/") throw Error("cannot move the root \"/\"");
  const std::string src = object_key(from), dst = object_key(to);
  // S3 has no rename: copy, then delete the source. A crash in between leaves both, each whole.
  if (auto info = client_.head(src)) {
    if (info->rgw) rgw_.store(true, std::memory_order_relaxed);
    copy_object(src, dst, info->size);
    client_.remove(src);
    return;
  }
  // A "directory": every object under it, keeping its path below the prefix.
  const std::string src_prefix = dir_prefix(from), dst_prefix = dir_prefix(to);
  auto objects = list_all(src_prefix);
  if (objects.empty()) throw Error("move: " + from + " does not exist");
  parallel_for(objects.size(), kBatchThreads, [&](size_t i) {
    const auto& o = objects[i];
    copy_object(o.key, dst_prefix + o.key.substr(src_prefix.size()), o.size);
  });
  std::vector<std::string> keys;
  for (const auto& o : objects) keys.push_back(o.key);
  client_.remove_many(keys);
}

bool S3Driver::remove(const std::string& key) {
  validate_key(key);
  bool found = false;
  const std::string k = object_key(key), prefix = dir_prefix(key);
  // The three lookups at once: each is a round trip, and finishing an upload waits for the
  // removal of its directory.
  auto uploads = std::async(
      std::launch::async, [&] { return client_.multipart_uploads_under(key == "/" ? prefix : k); });
  auto objects = std::async(std::launch::async, [&] { return list_all(prefix); });
  if (key != "/" && client_.head(k)) {
    client_.remove(k);
    found = true;
  }
  // Pending multipart uploads (writer.h) of the key, with its tail, and of anything under it.
  for (const auto& [upload_key, id] : uploads.get()) {
    if (upload_key != k && !upload_key.starts_with(prefix)) continue;  // "/a" is no "/ab"
    client_.abort_multipart(upload_key, id);
    if (upload_key == k) client_.remove(tail_key(k));
    found = true;
  }
  std::vector<std::string> keys;
  for (const auto& o : objects.get()) keys.push_back(o.key);
  if (!keys.empty()) {
    client_.remove_many(keys);
    found = true;
  }
  return found;
}

std::optional<std::string> S3Driver::url_for(const std::string& key, std::string_view method,
                                             std::chrono::seconds expiry) {
  validate_key(key);
  if (key == "/" || (method != "GET" && method != "HEAD")) return std::nullopt;
  return client_.presigned_url(std::string(method), object_key(key), expiry);
}

}  // namespace onsen::storage::s3
