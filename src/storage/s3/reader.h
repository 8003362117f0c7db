// Sequential Reader of one S3 object: ranged GETs of growing windows, each pinned to the ETag of
// the first, so a reader never mixes two versions of an object replaced while it reads.
#pragma once

#include <memory>
#include <string>

#include "storage/driver.h"
#include "storage/s3/client.h"

namespace onsen::storage::s3 {

// nullptr when there is no object at object_key; throws Error for an offset past its end.
std::unique_ptr<Reader> open_reader(Client& client, const std::string& object_key,
                                    const std::string& storage_key, uint64_t offset);

}  // namespace onsen::storage::s3
