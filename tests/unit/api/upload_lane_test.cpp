// Uploads have a pool of their own (ApiOptions::upload_threads): while an upload's final fsync
// holds every upload thread, other requests' storage work (a blob GET opens the blob on the
// blocking pool) is still done, and the upload's work runs below the process's CPU priority.
#include "api/api.h"

#include "api_request.h"

#include "registry/digest.h"
#include "storage/forwarding_driver.h"
#include "storage/inmemory.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace onsen::api {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

int nice_of_this_thread() {
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
}

// A driver whose writers' commit() (the fsync that finishes an upload) waits, while `hold` is
// set, until release() — an fsync of a large blob on a busy disk. Records the nice value of the
// thread that commits.
class HeldCommits final : public storage::ForwardingDriver {
 public:
  HeldCommits() : ForwardingDriver(std::make_shared<storage::InMemoryDriver>()) {}

  std::unique_ptr<storage::Writer> writer(const std::string& key, bool append) override {
    return std::make_unique<HeldWriter>(*this, target().writer(key, append));
  }
  std::unique_ptr<storage::Writer> append_writer(const std::string& key) override {
    auto w = target().append_writer(key);
    return w ? std::make_unique<HeldWriter>(*this, std::move(w)) : nullptr;
  }
  void release() { release_.set_value(); }

  std::atomic<bool> hold{false};
  std::promise<void> committing;  // set when a held commit() starts waiting
  std::atomic<int> commit_nice{0};

 private:
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();

  class HeldWriter final : public storage::Writer {
   public:
    HeldWriter(HeldCommits& d, std::unique_ptr<storage::Writer> w) : d_(d), w_(std::move(w)) {}
    void write(const char* buf, size_t n) override { w_->write(buf, n); }
    uint64_t size() const override { return w_->size(); }
    void commit() override {
      if (d_.hold) {
        d_.commit_nice = nice_of_this_thread();
        d_.committing.set_value();
        d_.released_.wait();
      }
      w_->commit();
    }
    void close() override { w_->close(); }
    void cancel() override { w_->cancel(); }

   private:
    HeldCommits& d_;
    std::unique_ptr<storage::Writer> w_;
  };
};

TEST(UploadLaneTest, ABlobGetIsServedWhileAnUploadsFsyncHoldsTheUploadPool) {
  auto driver = std::make_shared<HeldCommits>();
  registry::Registry registry(driver, {});
  const std::string stored = "a blob already stored";
  const auto stored_digest = registry::digest_of(stored);
  {
    auto session = registry.open_upload("app", registry.start_upload("app"));
    session->write(stored.data(), stored.size());
    session->finish(stored_digest);
  }
  ApiOptions options;
  options.blocking_threads = 1;
  options.upload_threads = 1;
  Api api(registry, options, nullptr);

  net::io_context io;
  auto guard = net::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });

  driver->hold = true;
  const std::string payload = "the upload being finished";
  test::BytesBody upload_body(payload);
  auto upload = test::api_request(
      "POST", "/v2/app/blobs/uploads/?digest=" + registry::digest_of(payload).str(), upload_body);
  auto uploaded = net::co_spawn(io, api.handle(upload), net::use_future);
  const bool held = driver->committing.get_future().wait_for(10s) == std::future_status::ready;
  EXPECT_TRUE(held) << "the upload never reached its fsync";
  if (held) {
    test::BytesBody no_body;
    auto get = test::api_request("GET", "/v2/app/blobs/" + stored_digest.str(), no_body);
    auto got = net::co_spawn(io, api.handle(get), net::use_future);
    const bool answered = got.wait_for(10s) == std::future_status::ready;
    driver->release();
    EXPECT_TRUE(answered) << "the blob GET waited for the upload's fsync";
    EXPECT_EQ(got.get().status, 200u);
  } else {
    driver->release();
  }
  EXPECT_EQ(uploaded.get().status, 201u);

  // Below the process's priority (ApiOptions::upload_niceness, 10 by default; 19 at most).
  EXPECT_EQ(driver->commit_nice, std::min(nice_of_this_thread() + 10, 19));

  guard.reset();
  io_thread.join();
  api.finish_blocking_work();
}

}  // namespace
}  // namespace onsen::api
