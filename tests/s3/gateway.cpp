#include "gateway.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>

#include "storage/s3/parameters.h"

namespace onsen::test {
namespace {

std::map<std::string, std::string> read_env_file(const std::string& path) {
  std::map<std::string, std::string> vars;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the S3 gateway file " + path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("export ", 0) != 0) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    vars[line.substr(7, eq - 7)] = line.substr(eq + 1);
  }
  return vars;
}

S3Gateway load() {
  std::map<std::string, std::string> vars;
  if (const char* file = std::getenv("ONSEN_TEST_S3_ENV"); file && *file) {
    vars = read_env_file(file);
  } else {
    for (const char* name :
         {"S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_REGION"}) {
      if (const char* v = std::getenv(name)) vars[name] = v;
    }
  }
  S3Gateway g{vars["S3_ENDPOINT"], vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"],
              vars["S3_REGION"]};
  if (g.endpoint.empty()) {
    throw std::runtime_error(
        "no S3 gateway: run under ctest (the s3 fixture) or eval "
        "\"$(tests/s3/start-ceph-rgw.sh)\"");
  }
  if (g.region.empty()) g.region = "us-east-1";
  return g;
}

}  // namespace

const S3Gateway& s3_gateway() {
  static const S3Gateway g = load();
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
