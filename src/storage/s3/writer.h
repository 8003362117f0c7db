// Writer of one S3 object, resumable from any process (another replica) because all its state is
// in the bucket, and resumed at a cost bounded by its own chunk plus 5 MiB, not by what the object
// already holds.
//
// Between Writers an unfinished object is in one of two states:
//  - plain: the object at the key holds every byte (new, below 5 MiB, or completed);
//  - pending: the key has no object but a pending multipart upload, kept open as Distribution's
//    s3 driver keeps it: its parts, each at least S3's 5 MiB minimum, hold the first bytes, and a
//    tail object beside the key (tail_key()) holds the rest, below 5 MiB. S3 takes a small part
//    only as the last of a completed upload and never reads back a pending upload's parts, so the
//    tail is kept apart until more bytes come: the next Writer reads it back (< 5 MiB) and sends
//    it in front of its own bytes. The tail is tagged with the upload id and part count it
//    follows; a tail whose tag does not match the upload (a Writer that died after sending a part
//    that took the tail in) is stale and holds nothing of the object.
// An object at the key takes precedence over a pending upload: a Writer that leaves the plain
// state deletes the object only after the upload and tail hold every byte, so a crash in between
// leaves the old plain state. Only commit() completes the upload.
//
// A Writer uploads each whole chunk as a part on a thread of its own while its caller writes on
// (a few at once, WriterOptions::parts_in_flight), so a request body keeps arriving while the
// previous part travels to S3. Parts may thus land out of order, and a failed or dead Writer may
// leave a later part without an earlier one: the object's parts are the gapless run from part 1
// only, and what lies beyond a gap was never acknowledged (a Writer reports its bytes stored only
// once every part before them is). S3 would complete the upload with the run alone; Ceph RGW
// refuses any list short of every part it holds, so the next Writer (or reader) completes it
// with all of them and continues that object's first bytes as a plain object (server-side copy):
// until it has, the object at the key holds bytes beyond the run that are not the upload's (a
// crash in that window: the upload fails its digest check, nothing wrong becomes visible).
//
// Distribution 2.8's writer instead completes the upload when its last part is small and copies
// the whole object server-side into a new one (O(upload so far) per resumed append).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/driver.h"
#include "storage/s3/client.h"

namespace onsen::storage::s3 {

enum class OpenMode {
  kTruncate,        // the object is replaced by an empty one at once
  kAppend,          // continues it; a missing object is created empty
  kAppendExisting,  // continues it; a missing object: no Writer (nullptr), nothing created
};

struct WriterOptions {
  uint64_t chunk_size = 10 << 20;  // part size (storage.s3 chunksize)
  size_t parts_in_flight = 4;      // parts uploaded at once while the caller writes on
};

std::unique_ptr<Writer> open_writer(Client& client, const std::string& object_key,
                                    const std::string& storage_key, OpenMode mode,
                                    const WriterOptions& options);

// The object key of the tail of a pending object (see above).
std::string tail_key(const std::string& object_key);

// A pending object: its multipart upload and the valid tail (empty when none or stale).
struct PendingObject {
  std::string upload_id;
  std::vector<Part> parts;  // the gapless run from part 1: the object's first bytes
  uint64_t parts_size = 0;
  // Every part the upload holds, when some lie beyond a gap (else empty): Ceph RGW completes an
  // upload only with all of its parts (InvalidPart otherwise), so these must be completed first
  // and the object's bytes copied out of the result (see open_writer, complete_pending).
  std::vector<Part> with_strays;
  std::string tail;         // the bytes, when asked for
  uint64_t tail_size = 0;   // valid tail's size
  bool tail_found = false;  // a tail object exists (valid or stale)
  std::chrono::system_clock::time_point mod_time;
  uint64_t size() const { return parts_size + tail_size; }
};

// The pending state of an object key (callers first check that no object is at the key);
// nullopt when it has no pending multipart upload. read_tail: fetch the tail's bytes too.
std::optional<PendingObject> find_pending(Client& client, const std::string& object_key,
                                          bool read_tail);
// The same, given the upload ids of the key (Client::multipart_uploads).
std::optional<PendingObject> find_pending(Client& client, const std::string& object_key,
                                          const std::vector<std::string>& ids, bool read_tail);

// Completes a pending object so the object at the key holds every byte (for a reader: S3 reads
// no pending upload); false when it has none. A Writer opened on it before notices and continues
// the completed object.
bool complete_pending(Client& client, const std::string& object_key);

}  // namespace onsen::storage::s3
