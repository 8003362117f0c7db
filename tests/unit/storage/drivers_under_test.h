// The storage drivers the conformance suite (conformance_test.cpp) runs against, in one place.
// A new driver adds an Env here (how to make a fresh, empty instance, and what it can do) and
// appends it to DriverEnvs; every TYPED_TEST of the suite then runs against it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "storage/driver.h"
#include "storage/filesystem.h"
#include "storage/inmemory.h"
#include "support/temp_dir.h"
#ifdef ONSEN_TEST_S3
#include "gateway.h"
#include "storage/s3/driver.h"
#include "storage/s3/parameters.h"
#endif

namespace onsen::storage::test {

// What some drivers can do and others cannot. A test that needs one starts with
// ONSEN_REQUIRE_CAPABILITY(c) and is skipped (not failed) for a driver without it.
enum class Capability {
  NativeFd,  // Reader::native_fd() is a real descriptor (sendfile); else -1
  // Storing an object under another object's key ("/f/under" when "/f" is a file), or at a key
  // with objects below it, is refused. Object stores have no directories to refuse it with, and
  // checking every ancestor would cost a request each (Distribution's s3 driver does not).
  FileDirectoryConflicts,
};
using Capabilities = std::set<Capability>;

// Each Env: kName (the suffix of the test names), make() (a fresh, empty driver) and
// capabilities(driver). The driver is passed so an Env can ask the driver itself once the
// Driver interface states its capabilities; until then each Env lists them.
struct FilesystemEnv {
  static constexpr const char* kName = "filesystem";
  // The root itself does not exist yet: the driver creates it on the first write.
  std::shared_ptr<Driver> make() { return std::make_shared<FilesystemDriver>(dir.path("root")); }
  static Capabilities capabilities(const Driver&) {
    return {Capability::NativeFd, Capability::FileDirectoryConflicts};
  }
  onsen::test::TempDir dir{"onsen-storage"};
};

struct InMemoryEnv {
  static constexpr const char* kName = "inmemory";
  std::shared_ptr<Driver> make() { return std::make_shared<InMemoryDriver>(); }
  static Capabilities capabilities(const Driver&) { return {Capability::FileDirectoryConflicts}; }
};

#ifdef ONSEN_TEST_S3
// The s3 driver on the gateway of the ctest fixture (tests/s3/): one bucket, a fresh
// rootdirectory per test, emptied afterwards. Built into the s3 test binary only, so the unit
// tests need no gateway.
struct S3Env {
  static constexpr const char* kName = "s3";
  std::shared_ptr<Driver> make() {
    auto config = s3::parse_parameters(
        onsen::test::s3_parameters(onsen::test::kS3TestBucket, onsen::test::unique_s3_root()));
    driver = std::make_shared<s3::S3Driver>(config);
    return driver;
  }
  static Capabilities capabilities(const Driver&) { return {}; }
  ~S3Env() {
    try {
      if (driver) driver->remove("/");
    } catch (...) {
    }
  }
  std::shared_ptr<s3::S3Driver> driver;
};
using DriverEnvs = ::testing::Types<S3Env>;
#else
using DriverEnvs = ::testing::Types<FilesystemEnv, InMemoryEnv>;
#endif

// The typed fixture: one fresh driver per test, from the Env.
template <typename Env>
class DriverTest : public ::testing::Test {
 protected:
  bool has(Capability c) const { return Env::capabilities(*driver).contains(c); }

  Env env;
  std::shared_ptr<Driver> driver = env.make();
};

// Test names end with the Env's kName ("DriverConformance/filesystem.PutGet").
struct EnvName {
  template <typename Env>
  static std::string GetName(int) {
    return Env::kName;
  }
};

}  // namespace onsen::storage::test

// Skips the current TYPED_TEST for a driver that lacks the capability.
#define ONSEN_REQUIRE_CAPABILITY(c)                                           \
  do {                                                                        \
    if (!this->has(::onsen::storage::test::Capability::c))                    \
      GTEST_SKIP() << "the " << this->driver->name() << " driver has no " #c; \
  } while (0)
