// Blob upload sessions (Distribution's "_uploads/<uuid>"): start, append, status, finish, cancel.
//
// Bytes are hashed (SHA-256) as they are appended, so a chunked upload is never read twice. The
// hash state at the end of each append is kept in memory (the next append on this process takes
// it from there) and stored beside the upload as Distribution stores it,
// `_uploads/<id>/hashstates/sha256/<offset>` in Go's format (see ResumableSha256): another
// replica, this one after a restart, or Distribution itself continues from the state at the
// upload's current size with one small read. Only when that state is missing or unusable is the
// data read again (a rehash).
//
// Thread-safe. One request at a time may append to a given upload: a second concurrent
// appender gets Error(kBlobUploadInvalid) rather than interleaving bytes.
#pragma once

#include "registry/blob_store.h"
#include "registry/digest.h"
#include "registry/resumable_sha256.h"
#include "storage/driver.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace onsen::registry {

class UploadStore;

// An open append to one upload. Obtained from UploadStore::open(); releases the upload when
// destroyed, keeping every byte written so far (the client may resume from offset()).
class UploadSession {
 public:
  ~UploadSession();
  UploadSession(const UploadSession&) = delete;
  UploadSession& operator=(const UploadSession&) = delete;

  const std::string& id() const { return id_; }
  // Bytes in the upload so far.
  uint64_t offset() const { return writer_->size(); }
  // Appends to the upload, or to the staged chunk while one is open: store() then hash().
  void write(const char* buf, size_t n);
  // The two halves of write(), for a caller that runs them at once on two threads (the copy into
  // storage and the hash each take a large share of an upload's time): store() writes the bytes,
  // hash() takes them into the digest (nothing while a chunk is staged: commit_chunk() hashes
  // it). Each piece goes to both, pieces in the body's order, and the next piece only after both
  // halves have returned. A store() that fails leaves the hash state ahead of the data: the session
  // then forgets it, and finish() or the next open() rehashes what the upload holds.
  void store(const char* buf, size_t n);
  void hash(const char* buf, size_t n);
  // The next n bytes written are the rest of a body of known length (storage::Writer::expect):
  // storage may send them on as they come. Not for a staged chunk, which is stored apart.
  void expect(uint64_t n);
  // A chunk that must turn out exactly as long as announced, though its length is known only at
  // its end (a Content-Range on a chunked body): between begin_chunk() and commit_chunk() writes
  // go to a staging object beside the upload, and only commit_chunk() appends them. A chunk
  // discarded (discard_chunk(), an exception, the session's end) leaves the upload as it was.
  void begin_chunk();
  void commit_chunk();
  void discard_chunk();
  // Verifies the content against `expected`, then makes it the blob `expected` linked into the
  // repository and removes the upload. On a mismatch the upload is removed and
  // Error(kDigestInvalid) thrown: nothing becomes visible.
  void finish(const Digest& expected);

 private:
  friend class UploadStore;
  UploadSession(UploadStore& store, std::string repo, std::string id,
                std::unique_ptr<storage::Writer> writer, ResumableSha256 hasher);
  void release();

  UploadStore& store_;
  std::string repo_;
  std::string id_;
  std::unique_ptr<storage::Writer> writer_;
  std::unique_ptr<storage::Writer> chunk_;  // the staged chunk, when one is open
  ResumableSha256 hasher_;
  uint64_t opened_at_;       // the upload's size when this session opened it
  bool hash_stale_ = false;  // a store() failed: hasher_ may hold bytes the data does not
  bool done_ = false;
};

// What the upload store did since it started, for /debug/vars: how often it read an upload's data
// again to rebuild a hash (rehashes), and how often it stored and resumed a hash state instead.
struct UploadCounters {
  uint64_t rehashes = 0;
  uint64_t hash_states_saved = 0;
  uint64_t hash_states_resumed = 0;
  // Uploads being appended to now (UploadSessions open: a PATCH or PUT taking data), for the
  // metrics' uploads in progress.
  uint64_t sessions_open = 0;
};

class UploadStore {
 public:
  UploadStore(std::shared_ptr<storage::Driver> driver, BlobStore& blobs)
      : driver_(std::move(driver)), blobs_(blobs) {}

  // Creates an empty upload; returns its id.
  std::string start(const std::string& repo);
  // Bytes received so far. Throws Error(kBlobUploadUnknown).
  uint64_t size(const std::string& repo, const std::string& id);
  // Opens the upload for appending. Throws Error(kBlobUploadUnknown) or, when another request is
  // appending to it, Error(kBlobUploadInvalid).
  std::unique_ptr<UploadSession> open(const std::string& repo, const std::string& id);
  // Throws Error(kBlobUploadUnknown).
  void cancel(const std::string& repo, const std::string& id);

  UploadCounters counters() const;

 private:
  friend class UploadSession;
  struct Checkpoint {
    ResumableSha256 hasher;
    uint64_t offset;
  };
  // In-memory checkpoints kept at most: an upload finished on another replica leaves its entry
  // here, and one dropped costs only a read of the stored state.
  static constexpr size_t kMaxCheckpoints = 4096;

  bool exists(const std::string& repo, const std::string& id);
  // The hash state of the upload's first `size` bytes: the stored one, else a rehash.
  ResumableSha256 resume(const std::string& repo, const std::string& id, uint64_t size);
  // Passes the upload's data to `consume`, piece by piece: a rehash.
  void read_data(const std::string& data_key,
                 const std::function<void(const char*, size_t)>& consume);
  ResumableSha256 rehash(const std::string& data_key);
  Digest rehash(const std::string& data_key, std::string_view algorithm);
  void save_state(const std::string& repo, const std::string& id, const ResumableSha256& hasher);
  void forget(const std::string& key);

  std::shared_ptr<storage::Driver> driver_;
  BlobStore& blobs_;
  std::mutex mutex_;
  std::map<std::string, Checkpoint> checkpoints_;  // "<repo>/<id>" -> hash state at offset
  std::map<std::string, bool> busy_;               // uploads with a live UploadSession
  std::atomic<uint64_t> rehashes_{0};
  std::atomic<uint64_t> states_saved_{0};
  std::atomic<uint64_t> states_resumed_{0};
  std::atomic<uint64_t> sessions_open_{0};  // UploadSessions alive
};

}  // namespace onsen::registry
