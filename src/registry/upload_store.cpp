#include "registry/upload_store.h"

#include "base/uuid.h"

#include "registry/error.h"
#include "registry/names.h"
#include "storage/layout.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <openssl/rand.h>

#include <chrono>
#include <future>
#include <vector>

namespace onsen::registry {

namespace layout = storage::layout;

namespace {

std::string new_uuid() {
  std::array<uint8_t, 16> b;
  if (RAND_bytes(b.data(), b.size()) != 1)
    throw Error(ErrorCode::kInternal, "random source failed");
  std::string out;
  base::format_uuid_v4(b, out);
  return out;
}

std::string session_key(const std::string& repo, const std::string& id) {
  return repo + "/" + id;
}

// Where UploadSession::begin_chunk() stages a chunk: inside the upload's directory, so purging or
// cancelling the upload removes what a crash left there.
std::string chunk_key(const std::string& repo, const std::string& id) {
  return layout::upload_dir(repo, id) + "/chunk";
}

[[noreturn]] void unknown_upload() {
  throw Error(ErrorCode::kBlobUploadUnknown, "blob upload unknown to registry");
}

}  // namespace

std::string UploadStore::start(const std::string& repo) {
  auto id = new_uuid();
  // startedat first: its presence is what makes an upload exist (as in Distribution).
  // Neither file is synced: an upload that has only started holds nothing acknowledged. A process
  // crash keeps both (the page cache survives it); a power loss may take the upload with it and
  // the client starts again on BLOB_UPLOAD_UNKNOWN.
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  driver_->put_content_volatile(layout::upload_started_at(repo, id),
                                fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", now));
  driver_->writer(layout::upload_data(repo, id), false)->close();
  return id;
}

bool UploadStore::exists(const std::string& repo, const std::string& id) {
  if (!valid_upload_id(id)) return false;
  return driver_->stat(layout::upload_started_at(repo, id)).has_value();
}

uint64_t UploadStore::size(const std::string& repo, const std::string& id) {
  if (!exists(repo, id)) unknown_upload();
  auto info = driver_->stat(layout::upload_data(repo, id));
  // No data: the upload finished and a crash came before its directory went (see finish()).
  if (!info) unknown_upload();
  return info->size;
}

void UploadStore::read_data(const std::string& data_key,
                            const std::function<void(const char*, size_t)>& consume) {
  rehashes_.fetch_add(1, std::memory_order_relaxed);
  auto reader = driver_->reader(data_key, 0);
  if (!reader) return;
  std::vector<char> buf(1 << 20);
  while (size_t n = reader->read(buf.data(), buf.size())) consume(buf.data(), n);
}

ResumableSha256 UploadStore::rehash(const std::string& data_key) {
  ResumableSha256 hasher;
  read_data(data_key, [&](const char* p, size_t n) { hasher.update(p, n); });
  return hasher;
}

Digest UploadStore::rehash(const std::string& data_key, std::string_view algorithm) {
  if (algorithm == "sha256") return rehash(data_key).digest();
  Hasher hasher(algorithm);
  read_data(data_key, [&](const char* p, size_t n) { hasher.update(p, n); });
  return hasher.digest();
}

ResumableSha256 UploadStore::resume(const std::string& repo, const std::string& id, uint64_t size) {
  // Only the state at exactly `size` will do (as Distribution picks it): one read of a known key,
  // no listing. A state that is not one, or is for another length, is ignored.
  std::optional<std::string> stored;
  try {
    stored = driver_->get_content(layout::upload_hash_state(repo, id, "sha256", size));
  } catch (const storage::Error&) {
    // Unreadable: the rehash below either works or reports the storage's failure itself.
  }
  if (stored) {
    if (auto hasher = ResumableSha256::unmarshal(*stored); hasher && hasher->length() == size) {
      states_resumed_.fetch_add(1, std::memory_order_relaxed);
      return std::move(*hasher);
    }
  }
  return rehash(layout::upload_data(repo, id));
}

void UploadStore::save_state(const std::string& repo, const std::string& id,
                             const ResumableSha256& hasher) {
  // Volatile: a state lost to a power loss is only a rehash. Every one stays until the upload
  // goes (as in Distribution): a state at a smaller offset is still right for an upload a power
  // loss cut back to it, and removing the previous one would cost each PATCH one more call.
  try {
    driver_->put_content_volatile(layout::upload_hash_state(repo, id, "sha256", hasher.length()),
                                  hasher.marshal());
    states_saved_.fetch_add(1, std::memory_order_relaxed);
  } catch (const storage::Error&) {
    // The bytes are stored and acknowledged; without the state the next open rehashes them.
  }
}

UploadCounters UploadStore::counters() const {
  return UploadCounters{.rehashes = rehashes_.load(std::memory_order_relaxed),
                        .hash_states_saved = states_saved_.load(std::memory_order_relaxed),
                        .hash_states_resumed = states_resumed_.load(std::memory_order_relaxed),
                        .sessions_open = sessions_open_.load(std::memory_order_relaxed)};
}

std::unique_ptr<UploadSession> UploadStore::open(const std::string& repo, const std::string& id) {
  if (!exists(repo, id)) unknown_upload();
  auto key = session_key(repo, id);
  std::optional<Checkpoint> checkpoint;
  {
    std::lock_guard lock(mutex_);
    if (busy_[key])
      throw Error(ErrorCode::kBlobUploadInvalid, "upload is in use by another request");
    busy_[key] = true;
    if (auto it = checkpoints_.find(key); it != checkpoints_.end()) checkpoint = it->second;
  }
  try {
    // As in size(): an upload whose data has become a blob is over (an append that created the
    // data would bring it back).
    auto writer = driver_->append_writer(layout::upload_data(repo, id));
    if (!writer) unknown_upload();
    const uint64_t size = writer->size();
    // The checkpoint is stale when another process appended since (a replica behind a load
    // balancer). An empty upload (a new one: the first PATCH, a monolithic PUT) has no state.
    ResumableSha256 hasher = checkpoint && checkpoint->offset == size ? checkpoint->hasher
                             : size == 0                              ? ResumableSha256()
                                                                      : resume(repo, id, size);
    return std::unique_ptr<UploadSession>(
        new UploadSession(*this, repo, id, std::move(writer), std::move(hasher)));
  } catch (...) {
    std::lock_guard lock(mutex_);
    busy_.erase(key);
    throw;
  }
}

void UploadStore::cancel(const std::string& repo, const std::string& id) {
  if (!exists(repo, id)) unknown_upload();
  auto key = session_key(repo, id);
  {
    // A request streaming into the upload holds it: removing its files under it made that
    // request fail late (500 on the final PUT, a 202 for a gone upload on PATCH). Refused like a
    // second writer; the slot is held while removing, so open() cannot start on half-gone files.
    std::lock_guard lock(mutex_);
    if (busy_[key]) {
      throw Error(ErrorCode::kBlobUploadInvalid, "upload is in use by another request");
    }
    busy_[key] = true;
  }
  try {
    // startedat first, so a crash leaves the upload unknown rather than present with its data
    // gone.
    driver_->remove(layout::upload_started_at(repo, id));
    driver_->remove(layout::upload_dir(repo, id));
  } catch (...) {
    std::lock_guard lock(mutex_);
    busy_.erase(key);
    throw;
  }
  std::lock_guard lock(mutex_);
  busy_.erase(key);
  checkpoints_.erase(key);
}

void UploadStore::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  checkpoints_.erase(key);
}

UploadSession::UploadSession(UploadStore& store, std::string repo, std::string id,
                             std::unique_ptr<storage::Writer> writer, ResumableSha256 hasher)
    : store_(store),
      repo_(std::move(repo)),
      id_(std::move(id)),
      writer_(std::move(writer)),
      hasher_(std::move(hasher)),
      opened_at_(writer_->size()) {
  store_.sessions_open_.fetch_add(1, std::memory_order_relaxed);
}

UploadSession::~UploadSession() {
  store_.sessions_open_.fetch_sub(1, std::memory_order_relaxed);
  try {
    release();
  } catch (...) {
    // The bytes already written stay; the next open rehashes them.
  }
}

void UploadSession::release() {
  auto key = session_key(repo_, id_);
  if (!done_) {
    done_ = true;
    if (chunk_) discard_chunk();
    // Closed, not committed: a PATCH is acknowledged (202) without an fsync. A process crash keeps
    // the bytes (they are in the page cache); a power loss may lose the unfinished upload's tail,
    // which the client sees as a shorter upload (GET status, 416 on a mismatched Content-Range)
    // or an unknown one; whatever a power loss leaves, finish() rehashes after a restart and
    // checks the digest. Only finish() makes content durable, before its 201.
    const uint64_t size = writer_->size();
    const bool usable = !hash_stale_ && hasher_.length() == size;
    // Before the PATCH is answered (the session ends first), so the client's next PATCH finds it
    // on whichever replica it lands; saved while the writer closes (each a round trip to an
    // object store). A state for bytes a failing close did not keep is harmless: resume() takes
    // a state only at the data's exact length, and finish() checks the digest against the data.
    const bool save = usable && size > opened_at_;
    std::future<void> saved;
    if (save) {
      try {
        saved = std::async(std::launch::async, [&] { store_.save_state(repo_, id_, hasher_); });
      } catch (const std::system_error&) {  // no thread: saved below
      }
    }
    writer_->close();
    {
      std::lock_guard lock(store_.mutex_);
      if (!usable) {
        store_.checkpoints_.erase(key);
      } else {
        if (store_.checkpoints_.size() >= UploadStore::kMaxCheckpoints &&
            !store_.checkpoints_.contains(key)) {
          store_.checkpoints_.erase(store_.checkpoints_.begin());
        }
        store_.checkpoints_.insert_or_assign(key, UploadStore::Checkpoint{hasher_, size});
      }
    }
    if (saved.valid()) {
      saved.get();
    } else if (save) {
      store_.save_state(repo_, id_, hasher_);
    }
  }
  std::lock_guard lock(store_.mutex_);
  store_.busy_.erase(key);
}

void UploadSession::write(const char* buf, size_t n) {
  store(buf, n);
  hash(buf, n);
}

void UploadSession::store(const char* buf, size_t n) {
  if (chunk_) {
    chunk_->write(buf, n);  // a failure discards the chunk: the hash is not concerned
    return;
  }
  try {
    writer_->write(buf, n);
  } catch (...) {
    hash_stale_ = true;  // part of the piece may be in the data, all of it in the hash
    throw;
  }
}

void UploadSession::expect(uint64_t n) {
  if (!chunk_) writer_->expect(n);
}

void UploadSession::hash(const char* buf, size_t n) {
  if (!chunk_) hasher_.update(buf, n);
}

void UploadSession::begin_chunk() {
  if (chunk_) discard_chunk();
  chunk_ = store_.driver_->writer(chunk_key(repo_, id_), false);
}

void UploadSession::commit_chunk() {
  if (!chunk_) return;
  auto key = chunk_key(repo_, id_);
  chunk_->close();
  chunk_.reset();
  // Read back from the page cache: this copy is the price of all-or-nothing on a body whose
  // length is only known at its end, paid only by chunks sent that way.
  if (auto reader = store_.driver_->reader(key, 0)) {
    std::vector<char> buf(64 * 1024);
    while (size_t n = reader->read(buf.data(), buf.size())) write(buf.data(), n);
  }
  store_.driver_->remove(key);
}

void UploadSession::discard_chunk() {
  if (!chunk_) return;
  auto chunk = std::move(chunk_);
  chunk->cancel();
}

void UploadSession::finish(const Digest& expected) {
  auto key = session_key(repo_, id_);
  auto data_key = layout::upload_data(repo_, id_);
  done_ = true;
  writer_->commit();  // durable before it can become visible
  // Bytes were hashed with sha256 while they arrived; another algorithm (or a hash state that a
  // failed store() left ahead of the data) needs one more pass.
  Digest actual = expected.algorithm() == "sha256" && !hash_stale_
                      ? hasher_.digest()
                      : store_.rehash(data_key, expected.algorithm());
  // A state taken over from before this session (stored, or a checkpoint that descends from a
  // stored one) may be damaged in a way its format cannot show: the data decides.
  if (actual != expected && opened_at_ > 0 && expected.algorithm() == "sha256" && !hash_stale_) {
    actual = store_.rehash(data_key, expected.algorithm());
  }
  if (actual != expected) {
    store_.driver_->remove(layout::upload_dir(repo_, id_));
    store_.forget(key);
    throw Error(
        ErrorCode::kDigestInvalid,
        fmt::format("provided digest did not match uploaded content (got {})", actual.str()));
  }
  // Once the data has moved, the upload reads as unknown (size(), open()): a crash before the
  // directory goes leaves it unknown, never present with its data gone. (Removing startedat first
  // would do too, but leaves a new repository without any object until the link is written, which
  // the in-memory driver shows as the repository vanishing.)
  // The size: no stat for the usage index.
  store_.blobs_.adopt(data_key, repo_, expected, writer_->size());
  store_.driver_->remove(layout::upload_dir(repo_, id_));
  store_.forget(key);
}

}  // namespace onsen::registry
