#include "storage/s3/writer.h"

#include "storage/s3/driver.h"

namespace onsen::storage::s3 {
namespace {

// The tail's metadata: "<upload id> <number of parts it follows>".
constexpr const char* kTailTag = "onsen-tail-of";

std::string tail_tag(const std::string& upload_id, size_t parts) {
  return upload_id + " " + std::to_string(parts);
}

class S3Writer : public Writer {
 public:
  // A plain object: `object_exists` says whether one is at the key, `base` how many of its bytes
  // are not in `buffer` (a big object: copied server-side when the upload starts).
  S3Writer(Client& client, std::string object_key, std::string storage_key, uint64_t chunk_size,
           bool object_exists, uint64_t base, std::string buffer)
      : client_(client),
        key_(std::move(object_key)),
        storage_key_(std::move(storage_key)),
        chunk_size_(chunk_size),
        object_exists_(object_exists),
        base_(base),
        buffer_(std::move(buffer)) {}

  // A pending object: its upload continues, its tail is the start of the buffer.
  S3Writer(Client& client, std::string object_key, std::string storage_key, uint64_t chunk_size,
           PendingObject pending)
      : S3Writer(client, std::move(object_key), std::move(storage_key), chunk_size, false, 0,
                 std::move(pending.tail)) {
    upload_id_ = std::move(pending.upload_id);
    parts_ = std::move(pending.parts);
    parts_size_ = pending.parts_size;
    tail_at_open_ = buffer_.size();
    tail_exists_ = pending.tail_found;
    verify_pending_ = true;
  }

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
    // Whole chunks go out as parts now; the rest at close. A part that fails stays in the buffer,
    // so size() and a later close() still hold every byte.
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

  uint64_t size() const override { return base_ + parts_size_ + buffer_.size(); }

  void commit() override {
    check_open("commit");
    finishing([&] {
      if (verify_pending_) continue_completed();
      if (!upload_id_.empty() || (dirty_ && base_ > 0)) {
        if (upload_id_.empty()) start_multipart();
        if (!buffer_.empty()) upload_part(buffer_);  // the last part may be small
        client_.complete_multipart(key_, upload_id_, parts_);
      } else if (dirty_) {
        client_.put(key_, buffer_);
      }
      if (tail_exists_) client_.remove(tail_key(key_));
    });
    committed_ = true;
  }

  void close() override {
    if (closed_ || committed_ || cancelled_) return;
    finishing([&] { flush(); });
    closed_ = true;
  }

  void cancel() override {
    if (cancelled_) return;
    cancelled_ = true;
    buffer_.clear();
    // This writer's upload and any a crashed writer left.
    for (const auto& id : client_.multipart_uploads(key_)) client_.abort_multipart(key_, id);
    client_.remove(tail_key(key_));
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

  // Runs the last step; a failure leaves the writer done (its destructor does not try again on a
  // half-known state) and the stored object as a crash there would: the pending upload is never
  // aborted, it holds what earlier writers stored.
  template <typename F>
  void finishing(F&& step) {
    try {
      step();
    } catch (...) {
      closed_ = true;
      throw;
    }
  }

  // A pending object may have been completed since this writer opened it, by a reader in this
  // process (the registry rehashes an upload right after opening it; S3 reads no pending upload)
  // or another: then the object at the key holds the parts and the tail. Continue that object:
  // its parts' bytes are copied server-side, the tail is still the start of the buffer. Checked
  // once, before this writer changes anything.
  void continue_completed() {
    verify_pending_ = false;
    auto info = client_.head(key_);
    if (!info) return;
    if (info->size != parts_size_ + tail_at_open_) {
      throw Error(storage_key_ + ": changed by another writer while open");
    }
    object_exists_ = true;
    base_ = parts_size_;
    parts_.clear();
    parts_size_ = 0;
    upload_id_.clear();
  }

  // Starts a multipart upload (aborting any a crashed writer left); the first base_ bytes of the
  // object become its first parts by server-side copy.
  void start_multipart() {
    for (const auto& id : client_.multipart_uploads(key_)) client_.abort_multipart(key_, id);
    upload_id_ = client_.create_multipart(key_);
    // At most 5 GiB per copied part: split evenly, every piece stays above the 5 MiB minimum.
    const uint64_t pieces = (base_ + kMaxPartSize - 1) / kMaxPartSize;
    for (uint64_t i = 0; i < pieces; ++i) {
      uint64_t first = base_ * i / pieces, last = base_ * (i + 1) / pieces - 1;
      int number = static_cast<int>(parts_.size()) + 1;
      parts_.push_back({number,
                        client_.upload_part_copy(key_, upload_id_, number, key_, first, last),
                        last - first + 1});
      parts_size_ += last - first + 1;
    }
    base_ = 0;
  }

  void upload_part(std::string_view data) {
    if (verify_pending_) continue_completed();
    if (upload_id_.empty()) start_multipart();
    int number = static_cast<int>(parts_.size()) + 1;
    parts_.push_back({number, client_.upload_part(key_, upload_id_, number, data), data.size()});
    parts_size_ += data.size();
  }

  // Leaves every byte written stored between writers: plain when small and never a multipart
  // upload, else pending (parts, then the tail, then the plain object deleted).
  void flush() {
    if (!dirty_) return;
    if (verify_pending_) continue_completed();
    if (upload_id_.empty() && base_ == 0 && buffer_.size() < kMinPartSize) {
      client_.put(key_, buffer_);
      return;
    }
    if (buffer_.size() >= kMinPartSize) {
      upload_part(buffer_);
      buffer_.clear();
    } else if (upload_id_.empty()) {
      start_multipart();
    }
    // Always written, also empty: a stale tail must not outlive a new upload id.
    client_.put(tail_key(key_), buffer_, {{kTailTag, tail_tag(upload_id_, parts_.size())}});
    tail_exists_ = true;
    if (object_exists_) client_.remove(key_);
    object_exists_ = false;
  }

  Client& client_;
  std::string key_;
  std::string storage_key_;
  uint64_t chunk_size_;
  bool object_exists_;     // an object is at the key (it wins over a pending upload)
  uint64_t base_;          // bytes of that object to copy as the first parts
  std::string buffer_;     // bytes not in a part: a tail or small object read back, then writes
  std::string upload_id_;  // the pending multipart upload, empty before one starts
  std::vector<Part> parts_;
  uint64_t parts_size_ = 0;
  uint64_t tail_at_open_ = 0;    // opened pending: the tail's size, the start of the buffer
  bool tail_exists_ = false;     // a tail object may exist, to remove at commit
  bool verify_pending_ = false;  // opened pending: see continue_completed()
  bool dirty_ = false;
  bool closed_ = false, committed_ = false, cancelled_ = false;
};

}  // namespace

std::string tail_key(const std::string& object_key) {
  return object_key + ".tail";
}

std::optional<PendingObject> find_pending(Client& client, const std::string& object_key,
                                          bool read_tail) {
  auto ids = client.multipart_uploads(object_key);
  if (ids.empty()) return std::nullopt;
  ObjectInfo tail_info;
  std::optional<std::string> tail;
  if (read_tail) {
    tail = client.get(tail_key(object_key), &tail_info);
  } else if (auto info = client.head(tail_key(object_key))) {
    tail_info = *info;
    tail.emplace();
  }
  PendingObject p;
  p.tail_found = tail.has_value();
  // A writer aborts older uploads before it starts one; of several (a crash in between), the
  // tail's is the one in use, else the newest.
  const std::string tag = p.tail_found ? tail_info.metadata[kTailTag] : std::string();
  p.upload_id = ids.back();
  for (const auto& id : ids) {
    if (tag.starts_with(id + " ")) p.upload_id = id;
  }
  p.parts = client.list_parts(object_key, p.upload_id);
  for (const Part& part : p.parts) p.parts_size += part.size;
  p.mod_time = tail_info.mod_time;
  if (p.tail_found && tag == tail_tag(p.upload_id, p.parts.size())) {
    p.tail_size = tail_info.size;
    if (read_tail) p.tail = std::move(*tail);
  }
  return p;
}

bool complete_pending(Client& client, const std::string& object_key) {
  auto p = find_pending(client, object_key, true);
  if (!p) return false;
  if (!p->tail.empty()) {
    int number = static_cast<int>(p->parts.size()) + 1;
    p->parts.push_back(
        {number, client.upload_part(object_key, p->upload_id, number, p->tail), p->tail.size()});
  }
  if (p->parts.empty()) {  // S3 completes no upload without a part
    client.put(object_key, "");
    client.abort_multipart(object_key, p->upload_id);
  } else {
    client.complete_multipart(object_key, p->upload_id, p->parts);
  }
  client.remove(tail_key(object_key));
  return true;
}

std::unique_ptr<Writer> open_writer(Client& client, const std::string& object_key,
                                    const std::string& storage_key, bool append,
                                    uint64_t chunk_size) {
  if (append) {
    if (auto info = client.head(object_key)) {
      if (info->size >= kMinPartSize) {
        return std::make_unique<S3Writer>(client, object_key, storage_key, chunk_size, true,
                                          info->size, std::string());
      }
      // Too small to be a part: read back, it is sent again with what follows.
      if (auto content = client.get(object_key)) {
        return std::make_unique<S3Writer>(client, object_key, storage_key, chunk_size, true, 0,
                                          std::move(*content));
      }
    } else if (auto pending = find_pending(client, object_key, true)) {
      return std::make_unique<S3Writer>(client, object_key, storage_key, chunk_size,
                                        std::move(*pending));
    }
  }
  // New, or truncated: an empty object at once, as the filesystem driver's open does. It wins
  // over whatever pending upload the key had.
  client.put(object_key, "");
  return std::make_unique<S3Writer>(client, object_key, storage_key, chunk_size, true, 0,
                                    std::string());
}

}  // namespace onsen::storage::s3
