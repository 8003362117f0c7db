#include "support/s3_gateway.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>

namespace onsen::test {

std::optional<S3Gateway> find_s3_gateway() {
  std::map<std::string, std::string> vars;
  if (const char* file = std::getenv("ONSEN_TEST_S3_ENV"); file && *file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error(std::string("cannot read the S3 gateway file ") + file);
    for (std::string line; std::getline(in, line);) {  // "export NAME=value" lines
      auto eq = line.find('=');
      if (line.rfind("export ", 0) != 0 || eq == std::string::npos) continue;
      vars[line.substr(7, eq - 7)] = line.substr(eq + 1);
    }
  } else {
    for (const char* name :
         {"S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_REGION"}) {
      if (const char* v = std::getenv(name)) vars[name] = v;
    }
  }
  if (vars["S3_ENDPOINT"].empty()) return std::nullopt;
  S3Gateway g{vars["S3_ENDPOINT"], vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"],
              vars["S3_REGION"]};
  if (g.region.empty()) g.region = "us-east-1";
  return g;
}

}  // namespace onsen::test
