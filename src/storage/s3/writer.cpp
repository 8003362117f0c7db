#include "storage/s3/writer.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <utility>

#include "storage/s3/driver.h"

namespace onsen::storage::s3 {
namespace {

// A streamed part's sender gives up (and the part is sent whole once filled) when no byte has come
// for this long: a client slower than that would otherwise hold a gateway request open until the
// gateway's own timeout cut it.
constexpr auto kStreamStall = std::chrono::seconds(10);

// The tail's metadata: "<upload id> <number of parts it follows>".
constexpr const char* kTailTag = "onsen-tail-of";

std::string tail_tag(const std::string& upload_id, size_t parts) {
  return upload_id + " " + std::to_string(parts);
}

class S3Writer : public Writer {
 public:
  // A plain object: `object_exists` says whether one is at the key, `base` how many of its bytes
  // are not in `buffer` (a big object: copied server-side when the upload starts).
  S3Writer(Client& client, std::string object_key, std::string storage_key,
           const WriterOptions& options, bool object_exists, uint64_t base, std::string buffer)
      : client_(client),
        key_(std::move(object_key)),
        storage_key_(std::move(storage_key)),
        chunk_size_(options.chunk_size),
        max_in_flight_(std::max<size_t>(options.parts_in_flight, 1)),
        object_exists_(object_exists),
        base_(base),
        buffer_(std::move(buffer)) {}

  // A pending object: its upload continues, its tail is the start of the buffer.
  S3Writer(Client& client, std::string object_key, std::string storage_key,
           const WriterOptions& options, PendingObject pending)
      : S3Writer(client, std::move(object_key), std::move(storage_key), options, false, 0,
                 std::move(pending.tail)) {
    upload_id_ = std::move(pending.upload_id);
    parts_ = std::move(pending.parts);
    parts_size_ = pending.parts_size;
    tail_at_open_ = buffer_.size();
    tail_exists_ = pending.tail_found;
    verify_pending_ = true;
  }

  // Continues a pending object that had parts beyond a gap, now completed with all of them
  // (writer.h): its first base_ bytes are the object's, then the tail in the buffer. Dirty, so
  // that even a close() without writes stores the object's true state.
  void resume_completed_strays(bool tail_found) {
    dirty_ = true;
    tail_exists_ = tail_found;
  }

  ~S3Writer() override {
    try {
      close();
    } catch (...) {  // a destructor cannot report it; the object keeps what was stored before
    }
  }

  void write(const char* buf, size_t n) override {
    check_open("write to");
    dirty_ = dirty_ || n > 0;
    // Each whole chunk goes out as a part, uploaded while the caller goes on writing (see
    // send_part), or while its bytes still arrive (start_stream). The buffer is filled up to a
    // chunk only, so that a chunk is handed over whole, not copied out. What fails before a part
    // is handed over leaves its bytes in the buffer: size() and a later close() still hold every
    // byte taken.
    for (;;) {
      if (!streaming_ && n > 0) start_stream();
      if (streaming_) {
        const size_t take = feed_stream(buf, n);
        buf += take;
        n -= take;
        if (n == 0) return;
        continue;
      }
      if (buffer_.size() < chunk_size_) {
        if (buffer_.capacity() < chunk_size_) buffer_.reserve(chunk_size_);
        const size_t take = std::min<uint64_t>(n, chunk_size_ - buffer_.size());
        buffer_.append(buf, take);
        buf += take;
        n -= take;
      }
      if (buffer_.size() < chunk_size_) return;
      make_room_for_part();
      std::string part = std::move(buffer_);
      buffer_ = std::string();
      if (part.size() > chunk_size_) {  // not filled here (a read-back object): cut to a chunk
        buffer_.assign(part, chunk_size_);
        part.resize(chunk_size_);
      }
      send_part(std::move(part));
    }
  }

  uint64_t size() const override { return base_ + parts_size_ + in_flight_size_ + buffer_.size(); }

  void expect(uint64_t n) override { promised_end_ = size() + n; }

  void commit() override {
    check_open("commit");
    finishing([&] {
      end_stream();
      if (verify_pending_) continue_completed();
      if (!upload_id_.empty() || (dirty_ && base_ > 0)) {
        if (!buffer_.empty()) send_rest();  // the last part may be small
        if (upload_id_.empty()) start_multipart();
        drain();
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
    if (streaming_) abandon(*in_flight_.back().stream);
    streaming_ = false;
    // Parts still on their way would land after the abort below.
    for (auto& p : in_flight_) {
      try {
        if (p.etag.valid()) p.etag.get();
      } catch (...) {  // discarded anyway
      }
    }
    in_flight_.clear();
    in_flight_size_ = 0;
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

  // The buffer, whatever its size, as the next part (in flight like the others).
  void send_rest() {
    make_room_for_part();
    send_part(std::exchange(buffer_, std::string()));
  }

  // A part sent while its bytes arrive: the writer fills `data` (sized to the part up front, so
  // it never moves) and publishes how far; the sender's request body waits on it.
  struct Stream {
    std::mutex mutex;
    std::condition_variable more;
    uint64_t filled = 0;
    bool abandoned = false;  // the rest will not come: the sender drops its request
  };

  static void abandon(Stream& s) {
    {
      std::lock_guard lock(s.mutex);
      s.abandoned = true;
    }
    s.more.notify_all();
  }

  // Starts sending the next part before its bytes are here, when they are sure to come (the
  // caller's expect()) and S3 may take the request body unsigned (its hash would need them all):
  // a whole chunk, or the last bytes promised when at least S3's smallest part and an upload is
  // already under way (else they may become a plain object, as without streaming). A chunk's
  // time on the way to S3 thus overlaps its arrival instead of following it. A chunk that would
  // leave fewer promised bytes than S3's smallest part is cut shorter so that they make one:
  // they too are sent as they come, not after the body's end (a tail, or the last part of a
  // monolithic push sent at commit, is one more round trip that overlaps nothing).
  void start_stream() {
    if (!client_.streams_bodies() || promised_end_ <= size() || buffer_.size() >= chunk_size_) {
      return;
    }
    const uint64_t coming = buffer_.size() + (promised_end_ - size());
    uint64_t part = std::min<uint64_t>(coming, chunk_size_);
    if (coming > chunk_size_ && coming - chunk_size_ < kMinPartSize) {
      part = coming - kMinPartSize;
      if (part < kMinPartSize || part < buffer_.size()) return;
    } else if (part < chunk_size_ && (part < kMinPartSize || upload_id_.empty())) {
      return;
    }
    make_room_for_part();
    InFlight& p = in_flight_.emplace_back();
    p.number = static_cast<int>(parts_.size() + in_flight_.size());
    p.data = std::make_unique<std::string>(std::exchange(buffer_, std::string()));
    p.stream = std::make_shared<Stream>();
    p.stream->filled = p.data->size();
    in_flight_size_ += p.data->size();
    p.data->resize(part);
    streaming_ = true;
    try {
      p.etag = std::async(
          std::launch::async, [&client = client_, key = key_, id = upload_id_, number = p.number,
                               part, stream = p.stream, base = p.data->data()] {
            return client.upload_part_streamed(
                key, id, number, part, [&](uint64_t offset) -> std::string_view {
                  std::unique_lock lock(stream->mutex);
                  if (!stream->more.wait_for(lock, kStreamStall, [&] {
                        return stream->abandoned || stream->filled > offset;
                      })) {
                    throw BodyAbandoned("no bytes for the part in " +
                                        std::to_string(kStreamStall.count()) + " s");
                  }
                  if (stream->abandoned) throw BodyAbandoned("the part's bytes stopped short");
                  return {base + offset, stream->filled - offset};
                });
          });
    } catch (const std::system_error&) {  // no thread: sent whole once filled (settle_oldest)
    }
  }

  // Copies what fits of buf into the streamed part; a full part is an ordinary one in flight.
  size_t feed_stream(const char* buf, size_t n) {
    InFlight& p = in_flight_.back();
    Stream& s = *p.stream;
    const uint64_t filled = s.filled;  // only this thread changes it
    const size_t take = std::min<uint64_t>(n, p.data->size() - filled);
    std::memcpy(p.data->data() + filled, buf, take);
    {
      std::lock_guard lock(s.mutex);
      s.filled = filled + take;
    }
    s.more.notify_all();
    in_flight_size_ += take;
    if (filled + take == p.data->size()) streaming_ = false;
    return take;
  }

  // A streamed part whose bytes stopped short (the body broke; the promise did not hold): its
  // request is dropped, and its bytes go back to the buffer, where the writer keeps the bytes of
  // a part not yet handed over.
  void end_stream() {
    if (!streaming_) return;
    streaming_ = false;
    InFlight& p = in_flight_.back();
    abandon(*p.stream);
    if (p.etag.valid()) {
      try {
        p.etag.get();
      } catch (...) {  // BodyAbandoned, expected
      }
    }
    p.data->resize(p.stream->filled);
    in_flight_size_ -= p.data->size();
    buffer_ = std::move(*p.data);
    in_flight_.pop_back();
  }

  // A part uploaded on a thread of its own while the caller writes on: the request body keeps
  // arriving while the previous part travels to S3, rather than the two taking turns. At most
  // max_in_flight_ parts are out at once (make_room_for_part waits for the oldest beyond that):
  // a writer holds at most (max_in_flight_ + 1) * chunk_size_ bytes.
  void make_room_for_part() {
    if (verify_pending_) continue_completed();
    if (upload_id_.empty()) start_multipart();
    while (in_flight_.size() >= max_in_flight_) settle_oldest();
  }

  // After make_room_for_part(). Throws nothing that loses the part: it is queued first, and one
  // whose thread could not start is sent by settle_oldest().
  void send_part(std::string data) {
    InFlight& p = in_flight_.emplace_back();
    p.number = static_cast<int>(parts_.size() + in_flight_.size());
    p.data = std::make_unique<std::string>(std::move(data));
    in_flight_size_ += p.data->size();
    try {
      p.etag = std::async(
          std::launch::async,
          [&client = client_, key = key_, id = upload_id_, number = p.number,
           body = std::string_view(*p.data)] { return client.upload_part(key, id, number, body); });
    } catch (const std::system_error&) {
    }
  }

  // Waits for the oldest part in flight and records it. One that failed (after the client's own
  // retries) is sent again from here; if that fails too it stays, bytes and all, for the next
  // try, and the error goes to the caller. Parts are recorded in order, so parts_ always holds a
  // gapless run from part 1 (find_pending reads no further than such a run).
  void settle_oldest() {
    InFlight& p = in_flight_.front();
    std::string etag;
    if (p.etag.valid()) {
      try {
        etag = p.etag.get();
      } catch (...) {  // sent again below, which reports its own failure
      }
    }
    if (etag.empty()) etag = client_.upload_part(key_, upload_id_, p.number, *p.data);
    parts_.push_back({p.number, std::move(etag), p.data->size()});
    parts_size_ += p.data->size();
    in_flight_size_ -= p.data->size();
    in_flight_.pop_front();
  }

  void drain() {
    while (!in_flight_.empty()) settle_oldest();
  }

  // Leaves every byte written stored between writers: plain when small and never a multipart
  // upload, else pending (parts, then the tail, then the plain object deleted).
  void flush() {
    if (!dirty_) return;
    end_stream();
    if (verify_pending_) continue_completed();
    if (upload_id_.empty() && base_ == 0 && buffer_.size() < kMinPartSize) {
      client_.put(key_, buffer_);
      return;
    }
    if (buffer_.size() >= kMinPartSize) {
      send_rest();
    } else if (upload_id_.empty()) {
      start_multipart();
    }
    drain();  // every part before the tail that follows them
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
  size_t max_in_flight_;
  bool object_exists_;       // an object is at the key (it wins over a pending upload)
  uint64_t base_;            // bytes of that object to copy as the first parts
  std::string buffer_;       // bytes not in a part: a tail or small object read back, then writes
  std::string upload_id_;    // the pending multipart upload, empty before one starts
  std::vector<Part> parts_;  // uploaded, in order
  uint64_t parts_size_ = 0;
  struct InFlight {
    int number = 0;
    std::unique_ptr<std::string> data;  // kept until S3 has it: sent again if it failed
    std::future<std::string> etag;      // invalid once taken
    std::shared_ptr<Stream> stream;     // a part sent while it filled (start_stream)
  };
  std::deque<InFlight> in_flight_;  // parts sent after parts_, oldest first
  uint64_t in_flight_size_ = 0;
  uint64_t tail_at_open_ = 0;    // opened pending: the tail's size, the start of the buffer
  bool tail_exists_ = false;     // a tail object may exist, to remove at commit
  bool verify_pending_ = false;  // opened pending: see continue_completed()
  bool streaming_ = false;       // the newest part in flight is streamed and not yet full
  uint64_t promised_end_ = 0;    // size() the bytes promised by expect() reach
  bool dirty_ = false;
  bool closed_ = false, committed_ = false, cancelled_ = false;
};

// A Writer for a pending object with parts beyond a gap: completed with every part, then
// continued as a plain object of the gapless run's bytes followed by the tail.
std::unique_ptr<S3Writer> resume_past_strays(Client& client, const std::string& object_key,
                                             const std::string& storage_key,
                                             const WriterOptions& options, PendingObject p) {
  client.complete_multipart(object_key, p.upload_id, p.with_strays);
  auto w = std::make_unique<S3Writer>(client, object_key, storage_key, options, true, p.parts_size,
                                      std::move(p.tail));
  w->resume_completed_strays(p.tail_found);
  return w;
}

}  // namespace

std::string tail_key(const std::string& object_key) {
  return object_key + ".tail";
}

std::optional<PendingObject> find_pending(Client& client, const std::string& object_key,
                                          bool read_tail) {
  return find_pending(client, object_key, client.multipart_uploads(object_key), read_tail);
}

std::optional<PendingObject> find_pending(Client& client, const std::string& object_key,
                                          const std::vector<std::string>& ids, bool read_tail) {
  if (ids.empty()) return std::nullopt;
  // With one upload (the usual case) its parts are listed while the tail is read: each is a
  // round trip that every append of a chunked push waits for.
  std::future<std::vector<Part>> parts;
  if (ids.size() == 1) {
    parts =
        std::async(std::launch::async, [&] { return client.list_parts(object_key, ids.front()); });
  }
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
  p.parts = parts.valid() ? parts.get() : client.list_parts(object_key, p.upload_id);
  // Only the gapless run from part 1 holds the object's first bytes: a Writer sends parts
  // concurrently, and one that failed or died may have left a later part without an earlier.
  for (size_t i = 0; i < p.parts.size(); ++i) {
    if (p.parts[i].number != static_cast<int>(i) + 1) {
      p.with_strays = p.parts;
      p.parts.resize(i);
      break;
    }
    p.parts_size += p.parts[i].size;
  }
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
  if (!p->with_strays.empty()) {
    resume_past_strays(client, object_key, object_key, WriterOptions(), std::move(*p))->commit();
    return true;
  }
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
                                    const std::string& storage_key, OpenMode mode,
                                    const WriterOptions& options) {
  if (mode != OpenMode::kTruncate) {
    // The pending uploads are looked up while the object is: one round trip less for an append
    // to a pending object (every PATCH of a chunked push after the first), for one to a plain
    // object a request more, made alongside the HEAD.
    auto uploads =
        std::async(std::launch::async, [&] { return client.multipart_uploads(object_key); });
    if (auto info = client.head(object_key)) {
      if (info->size >= kMinPartSize) {
        return std::make_unique<S3Writer>(client, object_key, storage_key, options, true,
                                          info->size, std::string());
      }
      // Too small to be a part: read back, it is sent again with what follows (an empty one,
      // a new upload's, needs no read).
      std::optional<std::string> content;
      if (info->size == 0) {
        content.emplace();
      } else {
        content = client.get(object_key);
      }
      if (content) {
        return std::make_unique<S3Writer>(client, object_key, storage_key, options, true, 0,
                                          std::move(*content));
      }
    } else if (auto pending = find_pending(client, object_key, uploads.get(), true)) {
      if (!pending->with_strays.empty()) {
        return resume_past_strays(client, object_key, storage_key, options, std::move(*pending));
      }
      return std::make_unique<S3Writer>(client, object_key, storage_key, options,
                                        std::move(*pending));
    }
    if (mode == OpenMode::kAppendExisting) return nullptr;
  }
  // New, or truncated: an empty object at once, as the filesystem driver's open does. It wins
  // over whatever pending upload the key had.
  client.put(object_key, "");
  return std::make_unique<S3Writer>(client, object_key, storage_key, options, true, 0,
                                    std::string());
}

}  // namespace onsen::storage::s3
