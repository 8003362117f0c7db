// The S3 gateway the tests run against: the one the ctest fixture started (tests/s3/gateway.sh
// writes its variables to the file named by ONSEN_TEST_S3_ENV), or the one the environment
// names (S3_ENDPOINT, AWS_ACCESS_KEY_ID, ... as `eval "$(tests/s3/start-ceph-rgw.sh)"` sets).
#pragma once

#include <string>

#include "storage/factory.h"

namespace onsen::test {

struct S3Gateway {
  std::string endpoint;  // http://127.0.0.1:port
  std::string access_key;
  std::string secret_key;
  std::string region;
};

// Throws std::runtime_error when no gateway is configured.
const S3Gateway& s3_gateway();

// storage.s3 parameters for `bucket` (created if missing) under a fresh rootdirectory.
storage::Parameters s3_parameters(const std::string& bucket, const std::string& root);

// A rootdirectory no other test uses: "/onsen-test-<pid>-<counter>-<random>".
std::string unique_s3_root();

}  // namespace onsen::test
