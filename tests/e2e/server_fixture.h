// Runs a real `onsen serve <config.yml>` child process on a free loopback port with a fresh
// temporary storage directory, and the GoogleTest fixtures built on it.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/registry_helpers.h"
#include "support/temp_dir.h"

namespace onsen::e2e {

// The client, the registry helpers and TempDir live in tests/support (onsen::test), shared with
// the unit tests; every e2e file sees them unqualified.
using namespace onsen::test;

struct ServerOptions {
  bool delete_enabled = true;
  // When set, htpasswd auth is configured with this file and realm; readiness then means GET /v2/
  // answers 401.
  std::string htpasswd_path;
  std::string realm = "Onsen Registry";
  // auth.htpasswd.throttle as a YAML flow map ("{failures: 3}"); empty: the defaults.
  std::string throttle;
  // Extra environment entries for the server ("REGISTRY_HTTP_AUTOMATICCROSSMOUNT=true"), on top
  // of the test's environment without its REGISTRY_* variables.
  std::vector<std::string> env;
  // Storage root directory; empty: a "storage" directory in the server's own temporary directory.
  // Two servers given the same root share it, as replicas do.
  std::string storage_dir;
};

class OnsenServer {
 public:
  explicit OnsenServer(ServerOptions options = {});
  ~OnsenServer();
  OnsenServer(const OnsenServer&) = delete;
  OnsenServer& operator=(const OnsenServer&) = delete;

  // Starts the process and waits until GET /v2/ answers 200 (10 s). Returns false and sets
  // error() when it does not come up.
  bool start();
  // stop() then start again on the same storage directory (and a new port).
  bool restart();
  // SIGTERM, then waits (SIGKILL after 15 s). Returns true when the process exited on its own.
  bool stop();

  bool ready() const { return ready_; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_->path(); }  // after start()
  const std::string& log_path() const { return log_path_; }
  // Raw wait status of the stopped process (valid after stop()).
  int exit_status() const { return exit_status_; }
  // Last max_bytes of the server's log.
  std::string log_tail(size_t max_bytes = 16 * 1024) const;
  std::unique_ptr<HttpClient> client() const;

 private:
  bool launch();

  ServerOptions options_;
  std::optional<TempDir> dir_;  // from start() on
  std::string log_path_;
  std::string config_path_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool ready_ = false;
  int exit_status_ = 0;
  std::string error_;
};

// One htpasswd line made by the real tool, as users make them (bcrypt only), with its newline.
std::string htpasswd_line(const std::string& user, const std::string& password);

// Finds a free loopback TCP port (bind 127.0.0.1:0, read it, close).
uint16_t free_loopback_port();

// One server (delete enabled) shared by every test of a suite; each test gets its own client and
// should use fresh repository names from repo().
class RegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  static void start_shared(ServerOptions options);
  static OnsenServer* shared_server();

  virtual OnsenServer* server() { return shared_server(); }
  HttpClient& c() { return *client_; }
  // A repository name unique to this test: "e2e/<test-name>-<n>" plus an optional suffix
  // component.
  std::string repo(const std::string& suffix = "");

  std::unique_ptr<HttpClient> client_;
};

// Same, with storage.delete.enabled = false.
class DeleteDisabledTest : public RegistryTest {
 protected:
  static void SetUpTestSuite();
};

// A fresh server for every test (for catalog listings, which see the whole registry).
class FreshServerTest : public RegistryTest {
 protected:
  static void SetUpTestSuite() {}
  static void TearDownTestSuite() {}
  void SetUp() override;
  void TearDown() override;
  OnsenServer* server() override { return own_.get(); }

  std::unique_ptr<OnsenServer> own_;
};

}  // namespace onsen::e2e
