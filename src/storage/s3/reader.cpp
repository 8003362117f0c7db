#include "storage/s3/reader.h"

namespace onsen::storage::s3 {
namespace {

class S3Reader : public Reader {
 public:
  S3Reader(std::unique_ptr<HttpStream> stream, std::string storage_key, uint64_t size)
      : stream_(std::move(stream)), storage_key_(std::move(storage_key)), size_(size) {}

  size_t read(char* buf, size_t n) override {
    if (!stream_) return 0;
    try {
      return stream_->read(buf, n);
    } catch (const NetworkError& e) {
      throw Error(storage_key_ + ": " + e.what(), Error::Unavailable{});
    }
  }

  uint64_t size() const override { return size_; }

 private:
  std::unique_ptr<HttpStream> stream_;  // null: nothing to read (at the end)
  std::string storage_key_;
  uint64_t size_;
};

}  // namespace

std::unique_ptr<Reader> open_reader(Client& client, const std::string& object_key,
                                    const std::string& storage_key, uint64_t offset,
                                    std::optional<uint64_t> length) {
  try {
    uint64_t size = 0;
    std::optional<uint64_t> last;
    if (length && *length > 0) last = offset + *length - 1;
    auto stream = client.get_stream(object_key, offset, size, last);
    if (!stream) return nullptr;
    return std::make_unique<S3Reader>(std::move(stream), storage_key, size);
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
  return std::make_unique<S3Reader>(nullptr, storage_key, info->size);
}

}  // namespace onsen::storage::s3
