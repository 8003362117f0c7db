#include "storage/s3/parameters.h"

#include "base/duration.h"

#include <algorithm>
#include <cstdlib>

namespace onsen::storage::s3 {
namespace {

const std::string* find(const Parameters& params, const std::string& key) {
  auto it = params.find(key);
  return it == params.end() ? nullptr : &it->second;
}

std::string value_or(const Parameters& params, const std::string& key, std::string fallback) {
  const std::string* v = find(params, key);
  return v ? *v : fallback;
}

// Go's strconv.ParseBool, as Distribution parses these.
bool boolean(const Parameters& params, const std::string& key, bool fallback) {
  const std::string* v = find(params, key);
  if (!v) return fallback;
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (*v == t) return true;
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (*v == f) return false;
  }
  throw ParameterError(key, "should be a boolean, got \"" + *v + "\"");
}

// Go's strconv.ParseInt(v, 0, 64) within [min, max].
uint64_t integer(const Parameters& params, const std::string& key, uint64_t fallback, uint64_t min,
                 uint64_t max) {
  const std::string* v = find(params, key);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  long long n = v->empty() ? 0 : std::strtoll(v->c_str(), &end, 0);
  if (v->empty() || errno != 0 || *end != '\0') {
    throw ParameterError(key, "must be an integer, \"" + *v + "\" invalid");
  }
  if (n < 0 || static_cast<uint64_t>(n) < min || static_cast<uint64_t>(n) > max) {
    throw ParameterError(key, "should be a number between " + std::to_string(min) + " and " +
                                  std::to_string(max) + " (inclusive), got " + *v);
  }
  return static_cast<uint64_t>(n);
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

const std::vector<std::string_view>& parameter_names() {
  static const std::vector<std::string_view> names = {"accesskey",
                                                      "secretkey",
                                                      "region",
                                                      "regionendpoint",
                                                      "forcepathstyle",
                                                      "bucket",
                                                      "rootdirectory",
                                                      "secure",
                                                      "skipverify",
                                                      "v4auth",
                                                      "chunksize",
                                                      "multipartcopychunksize",
                                                      "multipartcopymaxconcurrency",
                                                      "multipartcopythresholdsize",
                                                      "storageclass",
                                                      "encrypt",
                                                      "keyid",
                                                      "useragent",
                                                      "objectacl",
                                                      "sessiontoken",
                                                      "timeout"};  // timeout: Onsen's own
  return names;
}

DriverConfig parse_parameters(const Parameters& params) {
  DriverConfig c;
  ClientConfig& cc = c.client;
  cc.credentials.region = value_or(params, "region", "");
  if (cc.credentials.region.empty()) throw ParameterError("region", "no region parameter provided");
  cc.bucket = value_or(params, "bucket", "");
  if (cc.bucket.empty()) throw ParameterError("bucket", "no bucket parameter provided");
  cc.credentials.access_key = value_or(params, "accesskey", "");
  cc.credentials.secret_key = value_or(params, "secretkey", "");
  cc.credentials.session_token = value_or(params, "sessiontoken", "");
  // As the AWS SDK's environment provider: the token goes with the keys it was issued with.
  if (cc.credentials.access_key.empty()) {
    cc.credentials.access_key = env("AWS_ACCESS_KEY_ID");
    if (cc.credentials.session_token.empty())
      cc.credentials.session_token = env("AWS_SESSION_TOKEN");
  }
  if (cc.credentials.secret_key.empty()) cc.credentials.secret_key = env("AWS_SECRET_ACCESS_KEY");

  const bool secure = boolean(params, "secure", true);
  const bool skip_verify = boolean(params, "skipverify", false);
  if (!boolean(params, "v4auth", true)) {
    throw ParameterError("v4auth",
                         "false is not supported: Onsen signs with Signature Version 4 only");
  }
  cc.encrypt = boolean(params, "encrypt", false);
  cc.key_id = value_or(params, "keyid", "");

  const std::string endpoint = value_or(params, "regionendpoint", "");
  // 2.8 has no forcepathstyle: a regionendpoint means path style there. 3.x sets it explicitly.
  cc.path_style = boolean(params, "forcepathstyle", !endpoint.empty());
  try {
    cc.endpoint = parse_endpoint(
        endpoint.empty() ? "s3." + cc.credentials.region + ".amazonaws.com" : endpoint, secure);
  } catch (const std::exception& e) {
    throw ParameterError("regionendpoint", "invalid endpoint \"" + endpoint + "\": " + e.what());
  }
  if (!cc.path_style) cc.endpoint.host = cc.bucket + "." + cc.endpoint.host;
  cc.endpoint.skip_verify = skip_verify;

  // How long the gateway may stay silent (connecting, taking a request's bytes, between two
  // reads of an answer) before the attempt fails and is retried: the 60 s the client always had.
  if (const std::string* v = find(params, "timeout")) {
    auto d = base::parse_go_duration(*v);
    if (!d || *d < std::chrono::milliseconds(1) || *d > std::chrono::hours(24)) {
      throw ParameterError("timeout",
                           "must be a duration between 1ms and 24h (\"30s\"), got \"" + *v + "\"");
    }
    cc.timeout = std::chrono::ceil<std::chrono::milliseconds>(*d);
  }

  c.chunk_size = integer(params, "chunksize", 2 * kMinPartSize, kMinPartSize, kMaxPartSize);
  c.copy_chunk_size =
      integer(params, "multipartcopychunksize", 32 << 20, kMinPartSize, kMaxPartSize);
  c.copy_max_concurrency =
      integer(params, "multipartcopymaxconcurrency", 100, 1, uint64_t(INT64_MAX));
  c.copy_threshold_size = integer(params, "multipartcopythresholdsize", 32 << 20, 0, kMaxPartSize);
  c.root_directory = value_or(params, "rootdirectory", "");

  std::string storage_class = value_or(params, "storageclass", "STANDARD");
  std::transform(storage_class.begin(), storage_class.end(), storage_class.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  if (storage_class != "STANDARD" && storage_class != "REDUCED_REDUNDANCY" &&
      storage_class != "NONE") {
    throw ParameterError("storageclass", "must be one of [NONE STANDARD REDUCED_REDUNDANCY], \"" +
                                             storage_class + "\" invalid");
  }
  cc.storage_class = storage_class == "NONE" ? "" : storage_class;
  cc.acl = value_or(params, "objectacl", "private");
  static const char* kAcls[] = {
      "private",       "public-read",       "public-read-write",         "authenticated-read",
      "aws-exec-read", "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write"};
  if (std::none_of(std::begin(kAcls), std::end(kAcls),
                   [&](const char* a) { return cc.acl == a; })) {
    throw ParameterError("objectacl", "invalid value \"" + cc.acl + "\"");
  }
  return c;
}

std::string describe(const Parameters& params) {
  std::string endpoint = value_or(params, "regionendpoint", "");
  std::string root = value_or(params, "rootdirectory", "");
  if (!root.empty() && root.front() != '/') root = "/" + root;
  return "s3://" + value_or(params, "bucket", "") + root +
         (endpoint.empty() ? "" : " at " + endpoint);
}

}  // namespace onsen::storage::s3
