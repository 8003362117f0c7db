// load_checked(): the configuration with the verdicts of the layers it passes values through to
// (the storage driver's factory, the HTTP layer's cipher suite table), worded as config::load
// words its own errors, so `onsen serve` prints the same one line and exits 2.
#include <gtest/gtest.h>

#include "cli/config_source.h"
#include "support/temp_dir.h"

namespace onsen::cli {
namespace {

constexpr const char* kMinimal = "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /srv\n";

std::string error_of(const std::string& yaml, const std::vector<std::string>& env = {}) {
  test::TempDir dir;
  std::vector<std::string> warnings;
  try {
    load_checked(dir.write("config.yml", yaml), env, warnings);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(LoadChecked, StorageDriverIsCheckedByItsFactory) {
  EXPECT_EQ(error_of("version: 0.1\nstorage:\n  azure:\n    accountname: a\n"),
            "storage: driver azure is not supported yet");
  EXPECT_EQ(error_of("version: 0.1\nstorage: gcs\n"), "storage: driver gcs is not supported yet");
  EXPECT_EQ(error_of(kMinimal, {"REGISTRY_STORAGE=gcs"}),
            "REGISTRY_STORAGE: driver gcs is not supported yet");
}

// The s3 driver's parameters, by Distribution's rules: region and bucket required, sizes within
// S3's part limits; from the file or from REGISTRY_STORAGE_S3_* variables.
TEST(LoadChecked, S3ParametersAreCheckedByTheDriver) {
  const std::string s3 = "version: 0.1\nstorage:\n  s3:\n    bucket: b\n";
  EXPECT_EQ(error_of(s3), "storage.s3.region: no region parameter provided");
  EXPECT_EQ(error_of(s3 + "    region: us-east-1\n"), "(no error)");
  EXPECT_EQ(error_of(s3 + "    region: us-east-1\n    chunksize: 1024\n"),
            "storage.s3.chunksize: should be a number between 5242880 and 5368709120 (inclusive), "
            "got 1024");
  EXPECT_EQ(error_of(s3 + "    region: us-east-1\n    secure: maybe\n"),
            "storage.s3.secure: should be a boolean, got \"maybe\"");
  EXPECT_EQ(error_of(kMinimal, {"REGISTRY_STORAGE=s3", "REGISTRY_STORAGE_S3_REGION=us-east-1",
                                "REGISTRY_STORAGE_S3_BUCKET=b"}),
            "(no error)");
  EXPECT_EQ(error_of(kMinimal, {"REGISTRY_STORAGE=s3", "REGISTRY_STORAGE_S3_REGION=us-east-1"}),
            "storage.s3.bucket: no bucket parameter provided");
  EXPECT_EQ(error_of(kMinimal,
                     {"REGISTRY_STORAGE=s3", "REGISTRY_STORAGE_S3_REGION=us-east-1",
                      "REGISTRY_STORAGE_S3_BUCKET=b", "REGISTRY_STORAGE_S3_STORAGECLASS=glacier"}),
            "REGISTRY_STORAGE_S3_STORAGECLASS: must be one of [NONE STANDARD REDUCED_REDUNDANCY], "
            "\"GLACIER\" invalid");
}

TEST(LoadChecked, StorageParametersAreCheckedByTheDriver) {
  EXPECT_EQ(error_of("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: \"\"\n"),
            "storage.filesystem.rootdirectory: must not be empty");
  EXPECT_EQ(error_of(std::string(kMinimal) + "    maxthreads: lots\n"),
            "storage.filesystem.maxthreads: expected a non-negative integer, got \"lots\"");
  EXPECT_EQ(error_of(kMinimal, {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=\"\""}),
            "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: must not be empty");
  EXPECT_EQ(error_of(std::string(kMinimal) + "    maxthreads: 50\n"), "(no error)");
}

TEST(LoadChecked, UnknownDriverParametersWarn) {
  test::TempDir dir;
  std::vector<std::string> warnings;
  auto cfg = load_checked(dir.write("config.yml", std::string(kMinimal) + "    colour: blue\n"),
                          {"REGISTRY_STORAGE_FILESYSTEM_SHADE=dark"}, warnings);
  EXPECT_EQ(cfg.storage.parameters.at("rootdirectory"), "/srv");
  EXPECT_EQ(warnings,
            (std::vector<std::string>{"unknown configuration key: storage.filesystem.colour",
                                      "unknown configuration key: storage.filesystem.shade (from "
                                      "REGISTRY_STORAGE_FILESYSTEM_SHADE)"}));
}

TEST(LoadChecked, CipherSuitesAreCheckedAgainstTheHttpTable) {
  const std::string tls =
      std::string(kMinimal) + "http:\n  tls:\n    certificate: /c\n    key: /k\n";
  EXPECT_EQ(error_of(tls + "    ciphersuites: [NOPE]\n"),
            "http.tls.ciphersuites: unknown cipher suite \"NOPE\"");
  EXPECT_EQ(error_of(tls, {"REGISTRY_HTTP_TLS_CIPHERSUITES=[TLS_AES_128_GCM_SHA256, RC4]"}),
            "REGISTRY_HTTP_TLS_CIPHERSUITES: unknown cipher suite \"RC4\"");
  EXPECT_EQ(error_of(tls + "    ciphersuites: [TLS_AES_128_GCM_SHA256, "
                           "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n"),
            "(no error)");
}

}  // namespace
}  // namespace onsen::cli
