#include "registry/read_caching_driver.h"

#include "storage/layout.h"

#include <cstring>
#include <functional>
#include <string_view>
#include <utility>

namespace onsen::registry {

namespace {

namespace layout = storage::layout;

bool is_blob_data(std::string_view key) {
  static const std::string prefix = layout::blobs_root() + "/";
  return key.starts_with(prefix) && key.ends_with("/data");
}

bool is_link(std::string_view key) {
  static const std::string prefix = layout::repositories_root() + "/";
  return key.starts_with(prefix) && key.ends_with("/link") &&
         (key.find("/_layers/") != std::string_view::npos ||
          key.find("/_manifests/") != std::string_view::npos);
}

// Upload areas hold nothing cached: writes there (every chunk, staged link, hash state) need no
// invalidation, here or on other replicas.
bool in_upload_area(std::string_view key) {
  return key.find("/_uploads/") != std::string_view::npos || key.ends_with("/_uploads");
}

// A cached object, served from memory.
class ContentReader final : public storage::Reader {
 public:
  explicit ContentReader(std::string content) : content_(std::move(content)) {}
  size_t read(char* buf, size_t n) override {
    n = std::min(n, content_.size() - pos_);
    std::memcpy(buf, content_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  uint64_t size() const override { return content_.size(); }

 private:
  std::string content_;
  size_t pos_ = 0;
};

// A reader of a whole small object that caches the content once read to its end.
class RecordingReader final : public storage::Reader {
 public:
  RecordingReader(std::unique_ptr<storage::Reader> reader, storage::ReadCache& cache,
                  storage::ReadCache::Read read)
      : reader_(std::move(reader)), cache_(cache), read_(std::move(read)) {}
  size_t read(char* buf, size_t n) override {
    size_t got = reader_->read(buf, n);
    if (recording_) {
      content_.append(buf, got);
      if (got == 0 || content_.size() >= reader_->size()) {
        recording_ = false;
        if (content_.size() == reader_->size()) cache_.store_content(read_, std::move(content_));
      }
    }
    return got;
  }
  uint64_t size() const override { return reader_->size(); }

 private:
  std::unique_ptr<storage::Reader> reader_;
  storage::ReadCache& cache_;
  storage::ReadCache::Read read_;
  std::string content_;
  bool recording_ = true;
};

// A writer whose object changes when it commits, closes or cancels, not only when it opens.
class ChangingWriter final : public storage::Writer {
 public:
  ChangingWriter(std::unique_ptr<storage::Writer> writer, std::function<void()> changed)
      : writer_(std::move(writer)), changed_(std::move(changed)) {}
  void write(const char* buf, size_t n) override { writer_->write(buf, n); }
  void expect(uint64_t n) override { writer_->expect(n); }
  uint64_t size() const override { return writer_->size(); }
  void commit() override { after(&storage::Writer::commit); }
  void close() override { after(&storage::Writer::close); }
  void cancel() override { after(&storage::Writer::cancel); }

 private:
  void after(void (storage::Writer::*op)()) {
    struct Changed {
      std::function<void()>& changed;
      ~Changed() { changed(); }
    } changed{changed_};
    ((*writer_).*op)();
  }
  std::unique_ptr<storage::Writer> writer_;
  std::function<void()> changed_;
};

// Looks each key up in the cache (`find`), reads the misses that are cacheable in one batch call
// (`fetch`) and stores what they found (`store`); keys not cacheable go to the batch too.
template <typename T, typename Find, typename Fetch, typename Store, typename Cacheable>
std::vector<std::optional<T>> batch(storage::ReadCache& cache, const std::vector<std::string>& keys,
                                    Cacheable cacheable, Find find, Fetch fetch, Store store) {
  std::vector<std::optional<T>> out(keys.size());
  std::vector<size_t> missed;
  std::vector<std::string> missed_keys;
  std::vector<std::optional<storage::ReadCache::Read>> reads;
  for (size_t i = 0; i < keys.size(); ++i) {
    const bool c = cacheable(keys[i]);
    if (c && (out[i] = find(keys[i]))) continue;
    missed.push_back(i);
    missed_keys.push_back(keys[i]);
    if (c) {
      reads.emplace_back(cache.begin(keys[i]));
    } else {
      reads.emplace_back();
    }
  }
  if (missed.empty()) return out;
  auto fetched = fetch(missed_keys);
  for (size_t j = 0; j < missed.size(); ++j) {
    if (reads[j] && fetched[j]) store(*reads[j], *fetched[j]);
    out[missed[j]] = std::move(fetched[j]);
  }
  return out;
}

}  // namespace

ReadCachingDriver::ReadCachingDriver(std::shared_ptr<storage::Driver> driver,
                                     storage::ReadCache& cache, ListingChangePublisher* publisher)
    : ForwardingDriver(std::move(driver)), cache_(cache), publisher_(publisher) {}

bool ReadCachingDriver::cached_content(const std::string& key) {
  return is_link(key) || is_blob_data(key);
}

bool ReadCachingDriver::cached_stat(const std::string& key) {
  return is_blob_data(key);
}

std::optional<std::string> ReadCachingDriver::get_content(const std::string& key) {
  if (!cached_content(key)) return target().get_content(key);
  if (auto content = cache_.content(key)) return content;
  auto read = cache_.begin(key);
  auto content = target().get_content(key);
  if (content) cache_.store_content(read, *content);
  return content;
}

std::optional<storage::FileInfo> ReadCachingDriver::stat(const std::string& key) {
  if (!cached_stat(key)) return target().stat(key);
  if (auto info = cache_.stat(key)) return info;
  auto read = cache_.begin(key);
  auto info = target().stat(key);
  if (info && !info->is_dir) cache_.store_stat(read, *info);
  return info;
}

std::vector<std::optional<std::string>> ReadCachingDriver::get_contents(
    const std::vector<std::string>& keys) {
  return batch<std::string>(
      cache_, keys, cached_content, [this](const std::string& k) { return cache_.content(k); },
      [this](const std::vector<std::string>& ks) { return target().get_contents(ks); },
      [this](storage::ReadCache::Read& read, const std::string& content) {
        cache_.store_content(read, content);
      });
}

std::vector<std::optional<storage::FileInfo>> ReadCachingDriver::stats(
    const std::vector<std::string>& keys) {
  return batch<storage::FileInfo>(
      cache_, keys, cached_stat, [this](const std::string& k) { return cache_.stat(k); },
      [this](const std::vector<std::string>& ks) { return target().stats(ks); },
      [this](storage::ReadCache::Read& read, const storage::FileInfo& info) {
        if (!info.is_dir) cache_.store_stat(read, info);
      });
}

std::unique_ptr<storage::Reader> ReadCachingDriver::reader(const std::string& key,
                                                           uint64_t offset) {
  if (offset != 0 || !is_blob_data(key)) return target().reader(key, offset);
  if (auto content = cache_.content(key)) return std::make_unique<ContentReader>(*content);
  auto read = cache_.begin(key);
  auto reader = target().reader(key, 0);
  if (!reader || reader->size() > cache_.max_object_size()) return reader;
  return std::make_unique<RecordingReader>(std::move(reader), cache_, std::move(read));
}

void ReadCachingDriver::changed(const std::string& key) {
  if (invalidate(key)) flush_published();
}

bool ReadCachingDriver::invalidate(const std::string& key) {
  if (in_upload_area(key)) return false;
  cache_.invalidate(key);
  if (publisher_) publisher_->publish(ListingChange{ListingChange::Kind::kStored, "", key});
  return publisher_ != nullptr;
}

void ReadCachingDriver::flush_published() {
  // Not answered before the other replicas can know: a client moving a tag through one replica
  // and reading it through another right after must not get the cached old one. Waiting for
  // Redis to take the message leaves them only its delivery, far less than the client's next
  // round trip. (This driver wraps only stores whose calls run on the blocking pool.)
  publisher_->flush();
}

template <typename Write>
auto ReadCachingDriver::writing(std::initializer_list<const std::string*> keys, Write write) {
  // Also after a failure: a write may have failed halfway (a subtree partly moved or removed).
  struct Changed {
    ReadCachingDriver* self;
    std::initializer_list<const std::string*> keys;
    ~Changed() {
      bool published = false;
      for (const std::string* key : keys) published |= self->invalidate(*key);
      if (published) self->flush_published();  // one wait for the whole write
    }
  } after{this, keys};
  return write();
}

void ReadCachingDriver::put_content(const std::string& key, std::string_view content) {
  writing({&key}, [&] { target().put_content(key, content); });
}

void ReadCachingDriver::put_content_volatile(const std::string& key, std::string_view content) {
  writing({&key}, [&] { target().put_content_volatile(key, content); });
}

std::unique_ptr<storage::Writer> ReadCachingDriver::writer(const std::string& key, bool append) {
  return changing(key, target().writer(key, append));
}

std::unique_ptr<storage::Writer> ReadCachingDriver::append_writer(const std::string& key) {
  return changing(key, target().append_writer(key));
}

std::unique_ptr<storage::Writer> ReadCachingDriver::changing(
    const std::string& key, std::unique_ptr<storage::Writer> writer) {
  if (!writer || in_upload_area(key)) return writer;
  changed(key);
  return std::make_unique<ChangingWriter>(std::move(writer), [this, key] { changed(key); });
}

void ReadCachingDriver::move(const std::string& from, const std::string& to) {
  writing({&from, &to}, [&] { target().move(from, to); });
}

bool ReadCachingDriver::remove(const std::string& key) {
  return writing({&key}, [&] { return target().remove(key); });
}

}  // namespace onsen::registry
