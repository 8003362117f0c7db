#include "storage/s3/reader.h"

#include <algorithm>
#include <cstring>

namespace onsen::storage::s3 {
namespace {

// The first window is small (manifests, configs: one request), later ones larger (layers).
constexpr uint64_t kFirstWindow = 1 << 20;
constexpr uint64_t kMaxWindow = 16 << 20;

class S3Reader : public Reader {
 public:
  S3Reader(Client& client, std::string object_key, std::string storage_key, GetResult first,
           uint64_t offset)
      : client_(client),
        object_key_(std::move(object_key)),
        storage_key_(std::move(storage_key)),
        size_(first.total_size),
        etag_(std::move(first.etag)),
        buffer_(std::move(first.body)),
        next_(offset + buffer_.size()) {}

  size_t read(char* buf, size_t n) override {
    if (pos_ == buffer_.size()) {
      if (next_ >= size_) return 0;
      fetch();
    }
    size_t k = std::min(n, buffer_.size() - pos_);
    std::memcpy(buf, buffer_.data() + pos_, k);
    pos_ += k;
    return k;
  }

  uint64_t size() const override { return size_; }

 private:
  void fetch() {
    window_ = std::min(window_ * 2, kMaxWindow);
    const uint64_t last = std::min(size_, next_ + window_) - 1;
    std::optional<GetResult> part;
    try {
      part = client_.get(object_key_, next_, last, etag_);
    } catch (const S3Error& e) {
      if (e.status() == 412 || e.status() == 416) {
        throw Error(storage_key_ + " changed while it was read");
      }
      throw;
    }
    if (!part) throw Error(storage_key_ + " was removed while it was read");
    if (part->body.empty()) throw Error(storage_key_ + ": empty answer to a ranged GET");
    buffer_ = std::move(part->body);
    pos_ = 0;
    next_ += buffer_.size();
  }

  Client& client_;
  std::string object_key_;
  std::string storage_key_;
  uint64_t size_;
  std::string etag_;
  std::string buffer_;
  size_t pos_ = 0;
  uint64_t next_;  // object offset of the byte after buffer_
  uint64_t window_ = kFirstWindow;
};

}  // namespace

std::unique_ptr<Reader> open_reader(Client& client, const std::string& object_key,
                                    const std::string& storage_key, uint64_t offset) {
  try {
    auto first = client.get(object_key, offset, offset + kFirstWindow - 1);
    if (!first) return nullptr;
    return std::make_unique<S3Reader>(client, object_key, storage_key, std::move(*first), offset);
  } catch (const S3Error& e) {
    if (e.status() != 416) throw;
  }
  // 416: the offset is at or past the end (also any range of an empty object).
  auto info = client.head(object_key);
  if (!info) return nullptr;
  if (offset > info->size) {
    throw Error(storage_key + ": offset " + std::to_string(offset) + " is past the end (" +
                std::to_string(info->size) + " bytes)");
  }
  GetResult empty;
  empty.total_size = info->size;
  empty.etag = info->etag;
  return std::make_unique<S3Reader>(client, object_key, storage_key, std::move(empty), offset);
}

}  // namespace onsen::storage::s3
