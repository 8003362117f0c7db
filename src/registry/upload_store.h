// Blob upload sessions (Distribution's "_uploads/<uuid>"): start, append, status, finish, cancel.
//
// Bytes are hashed as they are appended; the hash state of each open upload is kept in memory so a
// chunked upload is never read twice. After a restart (or for an upload started by another
// registry process) the state is rebuilt by reading the data once.
//
// Thread-safe. One request at a time may append to a given upload: a second concurrent
// appender gets Error(kBlobUploadInvalid) rather than interleaving bytes.
#pragma once

#include "registry/blob_store.h"
#include "registry/digest.h"
#include "storage/driver.h"

#include <cstdint>
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
                std::unique_ptr<storage::Writer> writer, Hasher hasher);
  void release();

  UploadStore& store_;
  std::string repo_;
  std::string id_;
  std::unique_ptr<storage::Writer> writer_;
  std::unique_ptr<storage::Writer> chunk_;  // the staged chunk, when one is open
  Hasher hasher_;
  bool hash_stale_ = false;  // a store() failed: hasher_ may hold bytes the data does not
  bool done_ = false;
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

 private:
  friend class UploadSession;
  struct Checkpoint {
    Hasher hasher;
    uint64_t offset;
  };
  bool exists(const std::string& repo, const std::string& id);
  Hasher rehash(const std::string& data_key, std::string_view algorithm = "sha256");
  void forget(const std::string& key);

  std::shared_ptr<storage::Driver> driver_;
  BlobStore& blobs_;
  std::mutex mutex_;
  std::map<std::string, Checkpoint> checkpoints_;  // "<repo>/<id>" -> hash state at offset
  std::map<std::string, bool> busy_;               // uploads with a live UploadSession
};

}  // namespace onsen::registry
