// The S3 gateway tests run against: the one the ctest fixture started (tests/s3/gateway.sh writes
// its variables to the file named by ONSEN_TEST_S3_ENV), or the one the environment names
// (S3_ENDPOINT, AWS_ACCESS_KEY_ID, ... as `eval "$(tests/s3/start-ceph-rgw.sh)"` sets them).
#pragma once

#include <optional>
#include <string>

namespace onsen::test {

struct S3Gateway {
  std::string endpoint;  // http://127.0.0.1:port
  std::string access_key;
  std::string secret_key;
  std::string region;
};

// The bucket the fixture creates for the tests.
inline constexpr const char* kS3TestBucket = "onsen-tests";

// nullopt when no gateway is configured; throws std::runtime_error when ONSEN_TEST_S3_ENV names
// a file that cannot be read.
std::optional<S3Gateway> find_s3_gateway();

}  // namespace onsen::test
