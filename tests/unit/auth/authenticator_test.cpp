// BasicAuthenticator: the htpasswd provider end to end (minus HTTP).
#include <crypt.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "auth/authenticator.h"
#include "support/base64.h"
#include "support/temp_dir.h"

namespace onsen::auth {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// As `htpasswd -Bbn testuser testpassword` printed it (apache2-utils, cost 5).
constexpr const char* kApacheLine =
    "testuser:$2y$05$QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi.";

std::string hash_password(const std::string& password, int cost = 5) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn("$2b$", cost, nullptr, 0, salt, sizeof salt), nullptr);
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), salt, data.get(), sizeof(crypt_data));
  EXPECT_NE(out, nullptr);
  return out;
}

using onsen::test::base64;
using onsen::test::basic;

// Rewrites the file in place (same inode), as `htpasswd -B file user` does.
void write_in_place(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

// Replaces the file atomically (new inode), as configuration management does.
void replace_by_rename(const std::string& path, const std::string& contents) {
  std::string tmp = path + ".tmp";
  std::ofstream(tmp, std::ios::binary | std::ios::trunc) << contents;
  std::filesystem::rename(tmp, path);
}

// A monotonic clock the test moves by hand.
class FakeClock {
 public:
  SteadyClock::time_point now() const {
    return SteadyClock::time_point{} + 1000h + ns_.load() * 1ns;
  }
  void advance(std::chrono::nanoseconds d) { ns_ += d.count(); }

 private:
  std::atomic<std::int64_t> ns_{0};
};

// Captures everything logged through spdlog's default logger while alive.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream out_;
};

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_hash_ = hash_password("alice-pw");
    bob_hash_ = hash_password("bob-pw");
    path_ = dir_.path("htpasswd");
    write_in_place(path_, "# registry users\nalice:" + alice_hash_ + "\nbob:" + bob_hash_ + "\n" +
                              kApacheLine + "\n");
  }

  AuthenticatorOptions options() {
    AuthenticatorOptions o;
    o.clock = [this] { return clock_.now(); };
    return o;
  }
  std::unique_ptr<BasicAuthenticator> make(AuthenticatorOptions o) {
    return std::make_unique<BasicAuthenticator>("Registry Realm", path_, std::move(o));
  }
  std::unique_ptr<BasicAuthenticator> make() { return make(options()); }
  // The file holds one user, "slow" with password "slow-pw", hashed at bcrypt cost `cost` (so
  // that a verification takes long enough for the races under test).
  void only_slow_user(int cost) {
    write_in_place(path_, "slow:" + hash_password("slow-pw", cost) + "\n");
  }

  test::TempDir dir_{"onsen-auth"};
  FakeClock clock_;
  std::string path_;
  std::string alice_hash_;
  std::string bob_hash_;
};

TEST_F(AuthenticatorTest, GoodAndBadPasswords) {
  auto auth = make();
  auto d = auth->check(basic("alice", "alice-pw"), "10.0.0.1");
  EXPECT_EQ(d.verdict, Verdict::kAllowed);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.user, "alice");
  EXPECT_EQ(auth->check(basic("bob", "bob-pw"), "10.0.0.1").user, "bob");
  EXPECT_EQ(auth->check(basic("testuser", "testpassword"), "10.0.0.1").user, "testuser");

  d = auth->check(basic("alice", "bob-pw"), "10.0.0.2");
  EXPECT_EQ(d.verdict, Verdict::kUnauthorized);
  EXPECT_TRUE(d.user.empty());
  EXPECT_EQ(auth->check(basic("alice", "alice-pw "), "10.0.0.2").verdict, Verdict::kUnauthorized);
  EXPECT_EQ(auth->check(basic("Alice", "alice-pw"), "10.0.0.2").verdict, Verdict::kUnauthorized);
  EXPECT_EQ(auth->check(basic("alice", ""), "10.0.0.3").verdict, Verdict::kUnauthorized);
  EXPECT_EQ(auth->stats().users, 3u);
}

TEST_F(AuthenticatorTest, UnknownUserCostsABcryptToo) {
  auto auth = make();
  auto before = auth->stats().bcrypt_runs;
  EXPECT_EQ(auth->check(basic("mallory", "alice-pw"), "10.0.0.1").verdict, Verdict::kUnauthorized);
  EXPECT_EQ(auth->stats().bcrypt_runs, before + 1);  // the dummy verification
}

TEST_F(AuthenticatorTest, MissingFileIsAnErrorNamingThePath) {
  std::string missing = dir_.path("nope/htpasswd");
  try {
    BasicAuthenticator auth("r", missing);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  EXPECT_THROW(BasicAuthenticator("r", dir_.path("")), std::runtime_error);  // a directory
}

TEST_F(AuthenticatorTest, Challenge) {
  EXPECT_EQ(make()->challenge(), "Basic realm=\"Registry Realm\"");
  BasicAuthenticator quoted("\"Registry Realm\"", path_);  // quotes kept by a compose list entry
  EXPECT_EQ(quoted.challenge(), "Basic realm=\"\\\"Registry Realm\\\"\"");
  EXPECT_EQ(quoted.realm(), "\"Registry Realm\"");
  EXPECT_EQ(BasicAuthenticator("a\\b", path_).challenge(), "Basic realm=\"a\\\\b\"");
  EXPECT_EQ(BasicAuthenticator("x\r\nSet-Cookie: y", path_).challenge(),
            "Basic realm=\"x\\r\\nSet-Cookie: y\"");
  EXPECT_EQ(BasicAuthenticator("", path_).challenge(), "Basic realm=\"\"");
  EXPECT_EQ(BasicAuthenticator("r\x01", path_).challenge(), "Basic realm=\"r\\x01\"");
}

TEST_F(AuthenticatorTest, MalformedHeadersAreUnauthorizedAndCheap) {
  auto auth = make();
  const std::string bad[] = {
      "",
      base64("alice:alice-pw"),              // no scheme
      "Bearer " + base64("alice:alice-pw"),  // wrong scheme
      "Basic !!notbase64!!",                 // bad base64
      "Basic " + base64("alice"),            // no colon
      "Basic " + base64(":alice-pw"),        // empty user
      "Basic " + std::string(8192, 'A'),     // huge
      std::string(100000, '\xff'),           // huge garbage
      std::string("Basic \0\0\0", 9),        // NULs
  };
  for (int round = 0; round < 3; ++round) {
    for (const auto& h : bad) {
      auto d = auth->check(h, "10.0.0.9");
      EXPECT_EQ(d.verdict, Verdict::kUnauthorized);
    }
  }
  EXPECT_EQ(auth->stats().bcrypt_runs, 0u);
  EXPECT_EQ(auth->stats().throttled_clients, 0u);  // not counted as guesses
  EXPECT_TRUE(auth->check(basic("alice", "alice-pw"), "10.0.0.9").allowed());
}

TEST_F(AuthenticatorTest, SchemeCaseInsensitive) {
  auto auth = make();
  EXPECT_TRUE(auth->check("basic " + base64("alice:alice-pw"), "c").allowed());
  EXPECT_TRUE(auth->check("BASIC " + base64("alice:alice-pw"), "c").allowed());
}

TEST_F(AuthenticatorTest, NonBcryptLinesRefusedWithWarningAndNoSecretsLogged) {
  write_in_place(path_, "alice:" + alice_hash_ +
                            "\n# comment\n\nmd5:$apr1$9Cv/OMGj$ZomWQzuQbL.3TRCS81A1g/\n"
                            "sha:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\nplain:hunter2\n");
  LogCapture log;
  {
    auto auth = make();
    EXPECT_EQ(auth->stats().users, 1u);
    EXPECT_EQ(auth->check(basic("plain", "hunter2"), "10.0.0.1").verdict, Verdict::kUnauthorized);
    EXPECT_EQ(auth->check(basic("md5", "x"), "10.0.0.1").verdict, Verdict::kUnauthorized);
    EXPECT_TRUE(auth->check(basic("alice", "alice-pw"), "10.0.0.1").allowed());
    EXPECT_FALSE(auth->check(basic("alice", "wrong-pw"), "10.0.0.1").allowed());
  }
  std::string text = log.text();
  EXPECT_NE(text.find("line 4: user 'md5'"), std::string::npos) << text;
  EXPECT_NE(text.find("line 5: user 'sha'"), std::string::npos) << text;
  EXPECT_NE(text.find("line 6: user 'plain'"), std::string::npos) << text;
  EXPECT_NE(text.find("'alice'"), std::string::npos) << text;   // user names are logged
  EXPECT_NE(text.find("10.0.0.1"), std::string::npos) << text;  // client keys too
  for (const std::string& secret :
       {std::string("hunter2"), std::string("alice-pw"), std::string("wrong-pw"),
        std::string("9Cv/OMGj"), std::string("qUqP5cyxm6"), alice_hash_.substr(7, 22)}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in\n" << text;
  }
}

TEST_F(AuthenticatorTest, CacheHitsSkipBcrypt) {
  only_slow_user(10);
  auto auth = make();
  std::string header = basic("slow", "slow-pw");

  auto start = SteadyClock::now();
  ASSERT_TRUE(auth->check(header, "10.0.0.1").allowed());
  auto one_bcrypt = SteadyClock::now() - start;
  EXPECT_EQ(auth->stats().bcrypt_runs, 1u);

  start = SteadyClock::now();
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(auth->check(header, "10.0.0.1").allowed());
  auto cached = SteadyClock::now() - start;
  EXPECT_EQ(auth->stats().bcrypt_runs, 1u);
  EXPECT_EQ(auth->stats().cache_hits, 1000u);
  EXPECT_EQ(auth->stats().cache_entries, 1u);
  EXPECT_LT(cached, 100ms) << "1000 cached checks; one cost-10 bcrypt took "
                           << std::chrono::duration<double, std::milli>(one_bcrypt).count()
                           << " ms";
  EXPECT_LT(cached, one_bcrypt * 1000 / 10);
  std::printf("one cost-10 bcrypt: %.1f ms; 1000 cached checks: %.2f ms\n",
              std::chrono::duration<double, std::milli>(one_bcrypt).count(),
              std::chrono::duration<double, std::milli>(cached).count());

  // A refusal is cached too: repeating a wrong password runs no bcrypt, a new one does.
  EXPECT_FALSE(auth->check(basic("slow", "nope"), "10.0.0.2").allowed());
  EXPECT_FALSE(auth->check(basic("slow", "nope"), "10.0.0.2").allowed());
  EXPECT_EQ(auth->stats().bcrypt_runs, 2u);
  EXPECT_FALSE(auth->check(basic("slow", "nope2"), "10.0.0.2").allowed());
  EXPECT_EQ(auth->stats().bcrypt_runs, 3u);
  EXPECT_EQ(auth->stats().cache_entries, 3u);
}

TEST_F(AuthenticatorTest, PasswordChangeInvalidatesCache) {
  auto auth = make();
  ASSERT_TRUE(auth->check(basic("alice", "alice-pw"), "c").allowed());
  ASSERT_TRUE(auth->check(basic("alice", "alice-pw"), "c").allowed());
  ASSERT_EQ(auth->stats().cache_hits, 1u);
  auto generation = auth->stats().generation;

  // Same size (bcrypt hashes all have 60 characters), same inode, probably the same mtime tick.
  std::string new_hash = hash_password("alice-new");
  write_in_place(path_, "# registry users\nalice:" + new_hash + "\nbob:" + bob_hash_ + "\n" +
                            kApacheLine + "\n");
  // Not before the reload interval has passed: at most one stat per second.
  EXPECT_TRUE(auth->check(basic("alice", "alice-pw"), "c").allowed());
  clock_.advance(1001ms);
  EXPECT_EQ(auth->check(basic("alice", "alice-pw"), "c").verdict, Verdict::kUnauthorized);
  EXPECT_GT(auth->stats().generation, generation);
  EXPECT_TRUE(auth->check(basic("alice", "alice-new"), "c2").allowed());
  EXPECT_TRUE(auth->check(basic("bob", "bob-pw"), "c2").allowed());
}

TEST_F(AuthenticatorTest, ReloadAddsAndRemovesUsers) {
  auto auth = make();
  EXPECT_FALSE(auth->check(basic("carol", "carol-pw"), "c").allowed());
  ASSERT_TRUE(auth->check(basic("bob", "bob-pw"), "c").allowed());  // cached

  replace_by_rename(path_, "alice:" + alice_hash_ + "\ncarol:" + hash_password("carol-pw") + "\n");
  clock_.advance(2s);
  EXPECT_TRUE(auth->check(basic("carol", "carol-pw"), "c").allowed());
  EXPECT_FALSE(auth->check(basic("bob", "bob-pw"), "c").allowed());  // the cache forgot bob
  EXPECT_TRUE(auth->check(basic("alice", "alice-pw"), "c").allowed());
  EXPECT_EQ(auth->stats().users, 2u);
}

TEST_F(AuthenticatorTest, ExplicitReloadAndUnchangedContents) {
  auto auth = make();
  ASSERT_TRUE(auth->check(basic("alice", "alice-pw"), "c").allowed());
  auto generation = auth->stats().generation;
  // Touched (new mtime) but the same bytes: no new generation, the cache survives.
  struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path_.c_str(), times, 0), 0);
  EXPECT_FALSE(auth->reload());
  EXPECT_EQ(auth->stats().generation, generation);
  EXPECT_EQ(auth->stats().cache_entries, 1u);

  replace_by_rename(path_, "dave:" + hash_password("dave-pw") + "\n");
  EXPECT_TRUE(auth->reload());
  EXPECT_EQ(auth->stats().cache_entries, 0u);
  EXPECT_TRUE(auth->check(basic("dave", "dave-pw"), "c").allowed());
}

TEST_F(AuthenticatorTest, UnreadableFileKeepsLastGoodContents) {
  LogCapture log;
  auto auth = make();
  std::filesystem::remove(path_);
  clock_.advance(2s);
  EXPECT_TRUE(auth->check(basic("alice", "alice-pw"), "c").allowed());
  clock_.advance(2s);
  EXPECT_TRUE(auth->check(basic("bob", "bob-pw"), "c").allowed());
  EXPECT_FALSE(auth->reload());
  std::string text = log.text();
  auto first = text.find("cannot read htpasswd file");
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("cannot read htpasswd file", first + 1), std::string::npos)
      << "the same problem is logged once:\n"
      << text;

  write_in_place(path_, "erin:" + hash_password("erin-pw") + "\n");
  clock_.advance(2s);
  EXPECT_TRUE(auth->check(basic("erin", "erin-pw"), "c").allowed());
  EXPECT_FALSE(auth->check(basic("alice", "alice-pw"), "c").allowed());
  EXPECT_NE(log.text().find("readable again"), std::string::npos);
}

// One user's wrong passwords block that user from that address only, and only at 30 (in 3 min).
TEST_F(AuthenticatorTest, ThrottlesFailuresPerAddressAndUser) {
  auto auth = make();
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(auth->check(basic("alice", "guess" + std::to_string(i)), "10.0.0.66").verdict,
              Verdict::kUnauthorized)
        << i;
  }
  auto runs = auth->stats().bcrypt_runs;
  auto d = auth->check(basic("alice", "guess30"), "10.0.0.66");
  EXPECT_EQ(d.verdict, Verdict::kTooManyRequests);
  EXPECT_EQ(d.retry_after, 1s);
  EXPECT_EQ(d.throttled, ThrottleScope::kUser);
  // Even the right password is not tried while blocked, and no bcrypt runs.
  EXPECT_EQ(auth->check(basic("alice", "alice-pw"), "10.0.0.66").verdict,
            Verdict::kTooManyRequests);
  EXPECT_EQ(auth->stats().bcrypt_runs, runs);
  // Probing without credentials still gets the challenge.
  EXPECT_EQ(auth->check("", "10.0.0.66").verdict, Verdict::kUnauthorized);
  // Another user from the same address, and alice from another address, are unaffected.
  EXPECT_TRUE(auth->check(basic("bob", "bob-pw"), "10.0.0.66").allowed());
  EXPECT_EQ(auth->check(basic("bob", "typo"), "10.0.0.66").verdict, Verdict::kUnauthorized);
  EXPECT_TRUE(auth->check(basic("alice", "alice-pw"), "10.0.0.7").allowed());

  // Credentials verified before (now cached) pass even for the throttled user and address, so a
  // guesser behind a shared address cannot lock out logged-in clients...
  EXPECT_TRUE(auth->check(basic("alice", "alice-pw"), "10.0.0.66").allowed());
  // ...and they do not reset its failures: after the backoff, one more miss blocks again.
  clock_.advance(1s);
  EXPECT_EQ(auth->check(basic("alice", "guess31"), "10.0.0.66").verdict, Verdict::kUnauthorized);
  EXPECT_EQ(auth->check(basic("alice", "guess32"), "10.0.0.66").retry_after, 2s);
}

TEST_F(AuthenticatorTest, DistinctUserNamesFromOneAddressHitTheAddressCap) {
  AuthenticatorOptions o = options();
  o.throttle.max_address_failures = 10;
  auto auth = make(std::move(o));
  ASSERT_TRUE(auth->check(basic("alice", "alice-pw"), "10.6.6.6").allowed());  // cached
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(auth->check(basic("random" + std::to_string(i), "x"), "10.6.6.6").verdict,
              Verdict::kUnauthorized);
  }
  auto runs = auth->stats().bcrypt_runs;
  auto d = auth->check(basic("random10", "x"), "10.6.6.6");
  EXPECT_EQ(d.verdict, Verdict::kTooManyRequests);
  EXPECT_EQ(d.throttled, ThrottleScope::kAddress);
  EXPECT_EQ(auth->check(basic("bob", "bob-pw"), "10.6.6.6").throttled, ThrottleScope::kAddress);
  EXPECT_EQ(auth->stats().bcrypt_runs, runs);
  EXPECT_TRUE(auth->check(basic("alice", "alice-pw"), "10.6.6.6").allowed());  // cached: served
  EXPECT_TRUE(auth->check(basic("bob", "bob-pw"), "10.0.0.1").allowed());      // other address
}

// A client configured with a wrong password repeats it on every request and retry: the same
// answer each time, one bcrypt, never a block — until the file changes.
TEST_F(AuthenticatorTest, RepeatedWrongPasswordIsNeitherVerifiedNorCountedAgain) {
  AuthenticatorOptions o = options();
  o.throttle.max_failures = 3;
  auto auth = make(std::move(o));
  auto runs = auth->stats().bcrypt_runs;
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(auth->check(basic("alice", "stale-pw"), "10.0.0.1").verdict, Verdict::kUnauthorized)
        << i;
  }
  EXPECT_EQ(auth->stats().bcrypt_runs, runs + 1);
  EXPECT_TRUE(auth->check(basic("alice", "alice-pw"), "10.0.0.1").allowed());
  // The password becomes the right one: the refusal, made under the old file, no longer answers.
  clock_.advance(2s);
  write_in_place(path_, "alice:" + hash_password("stale-pw") + "\n");
  auth->reload();
  EXPECT_TRUE(auth->check(basic("alice", "stale-pw"), "10.0.0.1").allowed());
}

TEST_F(AuthenticatorTest, VerifiedSuccessResetsTheUser) {
  AuthenticatorOptions o = options();
  o.throttle.max_failures = 5;
  auto auth = make(std::move(o));
  for (int i = 0; i < 5; ++i) auth->check(basic("alice", "guess" + std::to_string(i)), "c");
  clock_.advance(1s);
  // Not cached yet: this runs bcrypt, succeeds, and clears the user's record.
  EXPECT_TRUE(auth->check(basic("alice", "alice-pw"), "c").allowed());
  EXPECT_EQ(auth->check(basic("alice", "guess5"), "c").verdict, Verdict::kUnauthorized);
  EXPECT_EQ(auth->check(basic("alice", "guess6"), "c").verdict, Verdict::kUnauthorized);
}

TEST_F(AuthenticatorTest, BackoffDoublesWhileGuessingContinues) {
  AuthenticatorOptions o = options();
  o.throttle.max_failures = 5;
  auto auth = make(std::move(o));
  for (int i = 0; i < 5; ++i) auth->check(basic("bob", "x" + std::to_string(i)), "c");
  std::chrono::seconds expected = 1s;
  for (int i = 0; i < 4; ++i) {
    auto d = auth->check(basic("bob", "y"), "c");
    ASSERT_EQ(d.verdict, Verdict::kTooManyRequests);
    ASSERT_EQ(d.retry_after, expected);
    clock_.advance(expected);
    ASSERT_EQ(auth->check(basic("bob", "z" + std::to_string(i)), "c").verdict,
              Verdict::kUnauthorized);
    expected *= 2;
  }
  EXPECT_EQ(auth->check(basic("bob", "y"), "c").retry_after, 16s);
}

// Runs fn(t) for t in [0, n) on n threads released together (the races these tests are about).
void at_once(int n, const std::function<void(int)>& fn) {
  std::barrier start(n);
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      fn(t);
    });
  }
  for (auto& th : threads) th.join();
}

// docker, podman and ctr open several connections at once; with a wrong password every one of
// them must be told 401 (the client then prints "unauthorized"), never 429.
TEST_F(AuthenticatorTest, ParallelWrongPasswordsOfOneClientAllGet401) {
  only_slow_user(8);
  auto auth = make();
  constexpr int kThreads = 20;
  std::atomic<int> unauthorized{0};
  at_once(kThreads, [&](int t) {
    // Half send the same stale password, half each a different one.
    std::string password = t % 2 == 0 ? "stale" : "typo" + std::to_string(t);
    if (auth->check(basic("slow", password), "10.0.0.5").verdict == Verdict::kUnauthorized) {
      ++unauthorized;
    }
  });
  EXPECT_EQ(unauthorized.load(), kThreads);
  EXPECT_TRUE(auth->check(basic("slow", "slow-pw"), "10.0.0.5").allowed());
}

TEST_F(AuthenticatorTest, ParallelGuessesCannotOutrunTheLimit) {
  only_slow_user(9);
  AuthenticatorOptions o = options();
  o.throttle.max_failures = 5;
  auto auth = make(std::move(o));
  constexpr int kThreads = 12;
  std::atomic<int> unauthorized{0}, throttled{0};
  at_once(kThreads, [&](int t) {
    auto d = auth->check(basic("slow", "guess" + std::to_string(t)), "10.6.6.6");
    (d.verdict == Verdict::kTooManyRequests ? throttled : unauthorized)++;
    EXPECT_NE(d.verdict, Verdict::kAllowed);
  });
  EXPECT_LE(auth->stats().bcrypt_runs, 5u);
  EXPECT_EQ(unauthorized.load(), static_cast<int>(auth->stats().bcrypt_runs));
  EXPECT_GE(throttled.load(), kThreads - 5);
}

TEST_F(AuthenticatorTest, IdenticalConcurrentVerificationsShareOneBcrypt) {
  only_slow_user(10);
  auto auth = make();
  constexpr int kThreads = 8;
  std::atomic<int> allowed{0};
  at_once(kThreads, [&](int t) {
    if (auth->check(basic("slow", "slow-pw"), "10.0.0." + std::to_string(t)).allowed()) {
      ++allowed;
    }
  });
  EXPECT_EQ(allowed.load(), kThreads);
  EXPECT_LE(auth->stats().bcrypt_runs, 2u);  // 1, bar a thread arriving just as it finished
}

TEST_F(AuthenticatorTest, ConcurrentMixedChecksAreDeterministic) {
  std::string alice4 = hash_password("alice-pw", 4);
  std::string bob4 = hash_password("bob-pw", 4);
  std::string contents = "alice:" + alice4 + "\nbob:" + bob4 + "\n";
  write_in_place(path_, contents);
  AuthenticatorOptions o = options();
  o.throttle.max_failures = 1'000'000;  // results must not depend on the interleaving
  o.reload_interval = 0ms;              // stat on every request: exercise reloads under load
  auto auth = make(std::move(o));

  struct Case {
    std::string header;
    Verdict verdict;
    std::string user;
  };
  const std::vector<Case> cases = {
      {basic("alice", "alice-pw"), Verdict::kAllowed, "alice"},
      {basic("bob", "bob-pw"), Verdict::kAllowed, "bob"},
      {basic("alice", "bob-pw"), Verdict::kUnauthorized, ""},
      {basic("mallory", "x"), Verdict::kUnauthorized, ""},
      {"Basic garbage!", Verdict::kUnauthorized, ""},
      {basic("bob", "bob-pw"), Verdict::kAllowed, "bob"},
      {"", Verdict::kUnauthorized, ""},
      {basic("alice", "alice-pw"), Verdict::kAllowed, "alice"},
  };
  constexpr int kThreads = 8;
  constexpr int kIterations = 150;
  std::atomic<int> mismatches{0};
  std::atomic<bool> stop{false};
  // Meanwhile the file is replaced (same contents) and reloaded again and again.
  std::thread reloader([&] {
    while (!stop) {
      replace_by_rename(path_, contents);
      auth->reload();
      std::this_thread::sleep_for(2ms);
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        const Case& c = cases[(t + i) % cases.size()];
        auto d = auth->check(c.header, "client-" + std::to_string(t % 3));
        if (d.verdict != c.verdict || d.user != c.user) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  reloader.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(auth->stats().generation, 1u);  // identical bytes never make a new generation
}

// Through the Authorizer interface, as the API asks: htpasswd lets every user in the file do
// everything (registry:2's htpasswd), so the access records change nothing: never kDenied, the
// same Basic challenge whatever the scope, and the throttle as check() has it.
TEST_F(AuthenticatorTest, AsAuthorizer) {
  auto owned = make();
  Authorizer& authorizer = *owned;
  const std::vector<Access> push = {{"repository", "team/app", {"pull", "push"}}};
  const std::vector<Access> catalog = {{"registry", "catalog", {"*"}}};
  const std::string good = basic("alice", "alice-pw");

  for (const auto& access : {std::vector<Access>{}, push, catalog}) {
    auto d = authorizer.authorize({good, "10.0.0.1"}, access);
    EXPECT_EQ(d.verdict, Verdict::kAllowed);
    EXPECT_EQ(d.user, "alice");
    EXPECT_EQ(authorizer.authorize({"", "10.0.0.1"}, access).verdict, Verdict::kUnauthorized);
    EXPECT_EQ(authorizer.challenge(access), "Basic realm=\"Registry Realm\"");
  }
  EXPECT_EQ(authorizer.authorize({basic("alice", "nope"), "10.0.0.2"}, push).verdict,
            Verdict::kUnauthorized);
  EXPECT_EQ(authorizer.authorize({basic("mallory", "x"), "10.0.0.2"}, push).verdict,
            Verdict::kUnauthorized);

  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(
        authorizer.authorize({basic("bob", "guess" + std::to_string(i)), "10.0.0.9"}, push).verdict,
        Verdict::kUnauthorized)
        << i;
  }
  auto d = authorizer.authorize({basic("bob", "guess30"), "10.0.0.9"}, push);
  EXPECT_EQ(d.verdict, Verdict::kTooManyRequests);
  EXPECT_EQ(d.retry_after, 1s);
  EXPECT_EQ(d.throttled, ThrottleScope::kUser);
}

TEST(Access, ScopesAsTheTokenSpecWritesThem) {
  Access repo{"repository", "library/alpine", {"pull", "push"}};
  EXPECT_EQ(repo.scope(), "repository:library/alpine:pull,push");
  Access catalog{"registry", "catalog", {"*"}};
  EXPECT_EQ(catalog.scope(), "registry:catalog:*");
  EXPECT_EQ(scope_of({}), "");
  EXPECT_EQ(scope_of({repo, catalog}), "repository:library/alpine:pull,push registry:catalog:*");
}

}  // namespace
}  // namespace onsen::auth
