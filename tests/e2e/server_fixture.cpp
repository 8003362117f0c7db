#include "server_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include "support/s3_gateway.h"

extern char** environ;

#ifndef ONSEN_BINARY
#error "ONSEN_BINARY must be defined to the path of the onsen executable"
#endif

namespace onsen::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string htpasswd_line(const std::string& user, const std::string& password) {
  std::string cmd = "htpasswd -Bbn -C 5 '" + user + "' '" + password + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string out;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out + "\n";
}

uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
  }
  ::close(fd);
  return port;
}

OnsenServer::OnsenServer(ServerOptions options) : options_(options) {}

OnsenServer::~OnsenServer() {
  stop();  // before dir_ (a member) removes the directory
}

bool OnsenServer::start() {
  try {
    dir_.emplace("onsen-e2e", "/tmp");
  } catch (const std::exception& e) {
    error_ = e.what();
    return false;
  }
  if (std::getenv("ONSEN_E2E_KEEP") != nullptr) dir_->keep();
  log_path_ = dir_->path("server.log");
  config_path_ = dir_->path("config.yml");
  fs::create_directories(dir_->path("storage"));
  return launch();
}

bool OnsenServer::restart() {
  stop();
  error_.clear();
  return launch();
}

bool OnsenServer::launch() {
  const std::string storage =
      options_.storage_dir.empty() ? dir_->path("storage") : options_.storage_dir;
  port_ = free_loopback_port();
  if (port_ == 0) {
    error_ = "no free loopback port";
    return false;
  }
  {
    std::ofstream cfg(config_path_, std::ios::trunc);
    cfg << "version: 0.1\n"
        << "log: {level: info}\n"
        << "storage:\n";
    // ONSEN_E2E_STORAGE=s3: the same suite against the s3 driver on the tests' gateway (ctest's
    // s3.e2e), each storage directory a rootdirectory of its own in one bucket.
    const char* kind = std::getenv("ONSEN_E2E_STORAGE");
    if (kind != nullptr && std::string(kind) == "s3") {
      auto g = test::find_s3_gateway();
      if (!g) {
        error_ = "ONSEN_E2E_STORAGE=s3 but no S3 gateway (ONSEN_TEST_S3_ENV, S3_ENDPOINT)";
        return false;
      }
      cfg << "  s3: {accesskey: " << g->access_key << ", secretkey: " << g->secret_key
          << ", region: " << g->region << ", regionendpoint: \"" << g->endpoint
          << "\", bucket: " << test::kS3TestBucket << ", secure: false, rootdirectory: /e2e"
          << storage << "}\n";
      // Streamed, not redirected: the suite checks Onsen's own blob answers (Docker-Content-Digest,
      // Etag, 206/416 and their Content-Range), which a redirect would hand to the gateway.
      // Redirects have their own test with real clients (tests/s3/redirect_test.sh).
      cfg << "  redirect: {disable: true}\n";
      // The read cache on, as registry:2's default configuration has its blob descriptor cache:
      // the whole suite then checks that what it serves stays right (tests/e2e/read_cache_test.cpp
      // counts what it saves).
      cfg << "  cache: {blobdescriptor: inmemory}\n";
    } else {
      cfg << "  filesystem: {rootdirectory: " << storage << "}\n";
    }
    cfg << "  delete: {enabled: " << (options_.delete_enabled ? "true" : "false") << "}\n"
        << "http: {addr: 127.0.0.1:" << port_ << "}\n";
    if (!options_.htpasswd_path.empty()) {
      cfg << "auth:\n  htpasswd: {realm: \"" << options_.realm
          << "\", path: " << options_.htpasswd_path;
      if (!options_.throttle.empty()) cfg << ", throttle: " << options_.throttle;
      cfg << "}\n";
    }
  }

  // The environment minus REGISTRY_* (they would override the configuration).
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "REGISTRY_", 9) != 0) env_strings.emplace_back(*e);
  }
  env_strings.insert(env_strings.end(), options_.env.begin(), options_.env.end());
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  // ONSEN_TEST_BINARY drives another build of the same server, e.g. the sanitizer build of
  // scripts/sanitize-e2e.sh, with this (ordinary) test binary.
  const char* binary_override = std::getenv("ONSEN_TEST_BINARY");
  std::string binary =
      binary_override != nullptr && *binary_override != '\0' ? binary_override : ONSEN_BINARY;
  std::string serve = "serve";
  std::vector<char*> argv = {binary.data(), serve.data(), config_path_.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    error_ = std::string("posix_spawn ") + binary + ": " + std::strerror(rc);
    return false;
  }

  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_status_ = status;
      std::ostringstream os;
      os << "onsen exited during startup (";
      if (WIFEXITED(status)) os << "status " << WEXITSTATUS(status);
      if (WIFSIGNALED(status)) os << "signal " << WTERMSIG(status);
      os << ")";
      error_ = os.str();
      return false;
    }
    HttpClient probe("127.0.0.1", port_, 1s);
    auto r = probe.get("/v2/");
    if (r.status == (options_.htpasswd_path.empty() ? 200u : 401u)) {
      ready_ = true;
      return true;
    }
    last = r.error.empty() ? ("HTTP " + std::to_string(r.status)) : r.error;
    std::this_thread::sleep_for(50ms);
  }
  error_ = "GET /v2/ did not answer 200 within 10 s (last: " + last + ")";
  return false;
}

bool OnsenServer::stop() {
  ready_ = false;
  if (pid_ <= 0) return true;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || r < 0) {
      const bool exited = (r == pid_);
      exit_status_ = status;
      pid_ = -1;
      return exited;
    }
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &exit_status_, 0);
  pid_ = -1;
  return false;
}

std::string OnsenServer::log_tail(size_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  if (!in) return "(no server log)";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = "...\n" + s.substr(s.size() - max_bytes);
  return s;
}

std::unique_ptr<HttpClient> OnsenServer::client() const {
  return std::make_unique<HttpClient>("127.0.0.1", port_);
}

// ---- fixtures ----

namespace {
std::unique_ptr<OnsenServer>& shared_slot() {
  static std::unique_ptr<OnsenServer> server;
  return server;
}
std::atomic<int> repo_counter{0};
}  // namespace

void RegistryTest::start_shared(ServerOptions options) {
  auto& slot = shared_slot();
  slot.reset();
  slot = std::make_unique<OnsenServer>(options);
  slot->start();
}

OnsenServer* RegistryTest::shared_server() {
  return shared_slot().get();
}

void RegistryTest::SetUpTestSuite() {
  start_shared(ServerOptions{});
}

void RegistryTest::TearDownTestSuite() {
  shared_slot().reset();
}

void DeleteDisabledTest::SetUpTestSuite() {
  ServerOptions options;
  options.delete_enabled = false;
  start_shared(options);
}

void RegistryTest::SetUp() {
  OnsenServer* s = server();
  ASSERT_NE(s, nullptr) << "no server";
  ASSERT_TRUE(s->ready()) << "onsen did not start: " << s->error() << "\n--- server log ---\n"
                          << s->log_tail();
  client_ = s->client();
}

void RegistryTest::TearDown() {
  OnsenServer* s = server();
  if (HasFailure() && s != nullptr) {
    std::cerr << "--- onsen log (" << s->log_path() << ") ---\n" << s->log_tail() << "\n---\n";
  }
  client_.reset();
}

void FreshServerTest::SetUp() {
  own_ = std::make_unique<OnsenServer>();
  own_->start();
  RegistryTest::SetUp();
}

void FreshServerTest::TearDown() {
  RegistryTest::TearDown();
  own_.reset();
}

std::string RegistryTest::repo(const std::string& suffix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string raw = info != nullptr ? info->name() : "test";
  std::string name;
  for (char ch : raw) {
    unsigned char u = static_cast<unsigned char>(ch);
    if (std::isalnum(u)) {
      name += static_cast<char>(std::tolower(u));
    } else if (!name.empty() && name.back() != '-') {
      name += '-';
    }
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.empty()) name = "test";
  std::string out = "e2e/" + name + "-" + std::to_string(++repo_counter);
  if (!suffix.empty()) out += "/" + suffix;
  return out;
}

}  // namespace onsen::e2e
