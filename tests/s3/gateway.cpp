#include "gateway.h"

#include <unistd.h>

#include <atomic>
#include <random>
#include <stdexcept>

#include "storage/s3/parameters.h"

namespace onsen::test {

const S3Gateway& s3_gateway() {
  static const S3Gateway g = [] {
    auto found = find_s3_gateway();
    if (!found) {
      throw std::runtime_error(
          "no S3 gateway: run under ctest (the s3 fixture) or eval "
          "\"$(tests/s3/start-ceph-rgw.sh)\"");
    }
    return *found;
  }();
  return g;
}

storage::Parameters s3_parameters(const std::string& bucket, const std::string& root) {
  const S3Gateway& g = s3_gateway();
  storage::Parameters p{{"accesskey", g.access_key}, {"secretkey", g.secret_key},
                        {"region", g.region},        {"regionendpoint", g.endpoint},
                        {"bucket", bucket},          {"rootdirectory", root},
                        {"secure", "false"}};
  static std::atomic<bool> created{false};
  if (!created.exchange(true)) {
    storage::s3::Client(storage::s3::parse_parameters(p).client).create_bucket();
  }
  return p;
}

std::string unique_s3_root() {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}();
  return "/onsen-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(salt % 100000);
}

}  // namespace onsen::test
