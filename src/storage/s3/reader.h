// Sequential Reader of one S3 object: one GET from the offset to the end (or to the end of the
// range asked for), its body read as the
// caller asks for it (a blob streams through at the pace of the registry's client). One answer
// is one version of the object, so a reader never mixes two versions of an object replaced
// while it reads.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "storage/driver.h"
#include "storage/s3/client.h"

namespace onsen::storage::s3 {

// nullptr when there is no object at object_key; throws Error for an offset past its end.
// With a length, the GET asks for only that many bytes (the reader ends there).
std::unique_ptr<Reader> open_reader(Client& client, const std::string& object_key,
                                    const std::string& storage_key, uint64_t offset,
                                    std::optional<uint64_t> length = std::nullopt);

}  // namespace onsen::storage::s3
