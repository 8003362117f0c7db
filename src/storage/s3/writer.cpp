#include "storage/s3/writer.h"

#include "storage/s3/driver.h"

namespace onsen::storage::s3 {
namespace {

class S3Writer : public Writer {
 public:
  S3Writer(Client& client, std::string object_key, std::string storage_key, uint64_t chunk_size,
           uint64_t stored, std::string buffer)
      : client_(client),
        key_(std::move(object_key)),
        storage_key_(std::move(storage_key)),
        chunk_size_(chunk_size),
        stored_(stored),
        buffer_(std::move(buffer)) {}

  ~S3Writer() override {
    try {
      close();
    } catch (...) {  // a destructor cannot report it; the object keeps what was stored before
    }
  }

  void write(const char* buf, size_t n) override {
    check_open("write to");
    buffer_.append(buf, n);
    dirty_ = dirty_ || n > 0;
    size_t done = 0;
    // Whole chunks go out as parts now; the rest is the last part at close (any size). A part
    // that fails stays in the buffer, so size() and a later close() still hold every byte.
    try {
      while (buffer_.size() - done >= chunk_size_) {
        upload_part(std::string_view(buffer_).substr(done, chunk_size_));
        done += chunk_size_;
      }
    } catch (...) {
      buffer_.erase(0, done);
      throw;
    }
    buffer_.erase(0, done);
  }

  uint64_t size() const override { return stored_ + sent_ + buffer_.size(); }

  void commit() override {
    check_open("commit");
    flush();
    committed_ = true;
  }

  void close() override {
    if (closed_ || committed_ || cancelled_) return;
    closed_ = true;
    flush();
  }

  void cancel() override {
    if (cancelled_) return;
    cancelled_ = true;
    if (!upload_id_.empty()) client_.abort_multipart(key_, upload_id_);
    upload_id_.clear();
    buffer_.clear();
    client_.remove(key_);
  }

 private:
  void check_open(const char* what) const {
    if (closed_ || committed_ || cancelled_) {
      throw Error(std::string("cannot ") + what + " " + storage_key_ + ": the writer is " +
                  (committed_   ? "committed"
                   : cancelled_ ? "cancelled"
                                : "closed"));
    }
  }

  // Starts the multipart upload; the stored object (at least kMinPartSize, or the open would
  // have read it into the buffer) becomes its first part(s) by server-side copy.
  void start_multipart() {
    upload_id_ = client_.create_multipart(key_);
    if (stored_ == 0) return;
    // At most 5 GiB per copied part: split evenly, every piece stays above the 5 MiB minimum.
    const uint64_t pieces = (stored_ + kMaxPartSize - 1) / kMaxPartSize;
    for (uint64_t i = 0; i < pieces; ++i) {
      uint64_t first = stored_ * i / pieces, last = stored_ * (i + 1) / pieces - 1;
      int number = static_cast<int>(parts_.size()) + 1;
      std::string etag =
          pieces == 1 ? client_.upload_part_copy(key_, upload_id_, number, key_)
                      : client_.upload_part_copy(key_, upload_id_, number, key_, first, last);
      parts_.push_back({number, etag, last - first + 1});
    }
  }

  void upload_part(std::string_view data) {
    if (upload_id_.empty()) start_multipart();
    int number = static_cast<int>(parts_.size()) + 1;
    parts_.push_back({number, client_.upload_part(key_, upload_id_, number, data), data.size()});
    sent_ += data.size();
  }

  // Makes the object hold everything written: the buffer becomes the last part of the multipart
  // upload, or (nothing stored or sent as parts yet) the whole object by one PUT.
  void flush() {
    if (!dirty_) return;
    try {
      if (upload_id_.empty() && stored_ == 0) {
        client_.put(key_, buffer_);
      } else {
        if (upload_id_.empty()) start_multipart();  // the stored part, copied, then the buffer
        if (!buffer_.empty()) upload_part(buffer_);
        client_.complete_multipart(key_, upload_id_, parts_);
      }
    } catch (...) {
      // The object keeps what it held before this writer (stat and a resume see that size); the
      // writer is done, so its destructor does not try again on a half-known state.
      if (!upload_id_.empty()) {
        try {
          client_.abort_multipart(key_, upload_id_);
        } catch (...) {
        }
      }
      upload_id_.clear();
      parts_.clear();
      buffer_.clear();
      sent_ = 0;
      closed_ = true;
      throw;
    }
    stored_ = size();
    sent_ = 0;
    buffer_.clear();
    parts_.clear();
    upload_id_.clear();
    dirty_ = false;
  }

  Client& client_;
  std::string key_;
  std::string storage_key_;
  uint64_t chunk_size_;
  uint64_t stored_;     // bytes of the object stored before this writer's multipart upload
  std::string buffer_;  // bytes not sent yet (with a small stored object's bytes, read back)
  uint64_t sent_ = 0;   // bytes sent as parts (beyond the copied ones)
  std::string upload_id_;
  std::vector<Part> parts_;
  bool dirty_ = false;
  bool closed_ = false, committed_ = false, cancelled_ = false;
};

}  // namespace

std::unique_ptr<Writer> open_writer(Client& client, const std::string& object_key,
                                    const std::string& storage_key, bool append,
                                    uint64_t chunk_size) {
  if (append) {
    if (auto info = client.head(object_key)) {
      if (info->size >= kMinPartSize) {
        return std::make_unique<S3Writer>(client, object_key, storage_key, chunk_size, info->size,
                                          std::string());
      }
      // Too small to be a part: read back, it is sent again with what follows.
      auto content = client.get(object_key);
      if (content) {
        return std::make_unique<S3Writer>(client, object_key, storage_key, chunk_size, 0,
                                          std::move(*content));
      }
    }
  }
  // New, or truncated: an empty object at once, as the filesystem driver's open does.
  client.put(object_key, "");
  return std::make_unique<S3Writer>(client, object_key, storage_key, chunk_size, 0, std::string());
}

}  // namespace onsen::storage::s3
