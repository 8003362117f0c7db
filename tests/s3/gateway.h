// The s3 driver on the tests' gateway (support/s3_gateway.h).
#pragma once

#include <string>

#include "storage/factory.h"
#include "support/s3_gateway.h"

namespace onsen::test {

// The gateway; throws std::runtime_error when none is configured.
const S3Gateway& s3_gateway();

// storage.s3 parameters for `bucket` (created if missing) under rootdirectory `root`.
storage::Parameters s3_parameters(const std::string& bucket, const std::string& root);

// A rootdirectory no other test uses: "/onsen-test-<pid>-<counter>-<random>".
std::string unique_s3_root();

}  // namespace onsen::test
