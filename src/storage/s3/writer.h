// Writer of one S3 object, resumable from any process (another replica) because all its state is
// the object itself.
//
// Like Distribution's s3 writer it sends multipart uploads of `chunk_size` parts and, on resume,
// reuses what is stored with a server-side UploadPartCopy as the first part (or reads it back when
// it is below S3's 5 MiB part minimum). Unlike it, close() completes the multipart upload, so
// between requests the object at the key holds every byte written so far: stat() gives the
// upload's size and a reader its bytes, as the Driver interface asks, with no pending-upload
// lookup (ListMultipartUploads) on every request.
#pragma once

#include <memory>
#include <string>

#include "storage/driver.h"
#include "storage/s3/client.h"

namespace onsen::storage::s3 {

// append=false: the object is replaced by an empty one at once; append=true: continues it (a
// missing object is created empty).
std::unique_ptr<Writer> open_writer(Client& client, const std::string& object_key,
                                    const std::string& storage_key, bool append,
                                    uint64_t chunk_size);

}  // namespace onsen::storage::s3
