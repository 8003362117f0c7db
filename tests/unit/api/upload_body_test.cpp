// How an upload's body reaches storage (api/uploads.cpp, append_body): a fast body's next buffer
// is read from the client while the previous one is written and hashed on the upload pool, in the
// body's order; a fast body gets 1 MiB buffers after its first fill; a body that breaks half-way
// keeps every byte that arrived.
#include "api/api.h"

#include "api_request.h"

#include "registry/digest.h"
#include "storage/forwarding_driver.h"
#include "storage/inmemory.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace onsen::api {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

constexpr size_t kPiece = 40 << 10;  // what one socket read brings
constexpr auto kPace = 2ms;          // between two pieces: a 20 MB/s client
constexpr auto kWriteTime = 20ms;    // one buffer's write: a slow disk

// A client's body, kPiece every kPace; counts the reads. With `break_after`, the connection breaks
// once that many bytes have arrived.
class PacedBody final : public http::BodyReader {
 public:
  explicit PacedBody(std::string data, size_t break_after = std::string::npos)
      : data_(std::move(data)), break_after_(break_after) {}

  boost::asio::awaitable<size_t> read_some(char* buf, size_t n) override {
    net::steady_timer pace(co_await net::this_coro::executor, kPace);
    co_await pace.async_wait(net::use_awaitable);
    if (at_ >= break_after_) throw std::runtime_error("connection reset by peer");
    n = std::min({n, kPiece, data_.size() - at_, break_after_ - at_});
    std::memcpy(buf, data_.data() + at_, n);
    at_ += n;
    ++reads;
    co_return n;
  }
  std::optional<uint64_t> content_length() const override { return data_.size(); }

  std::atomic<uint64_t> reads{0};

 private:
  std::string data_;
  size_t break_after_;
  size_t at_ = 0;
};

// A driver that counts writes; while a body is set, each takes kWriteTime and those during which
// the body was read are counted too.
class WritesWatchingReads final : public storage::ForwardingDriver {
 public:
  WritesWatchingReads() : ForwardingDriver(std::make_shared<storage::InMemoryDriver>()) {}

  std::unique_ptr<storage::Writer> writer(const std::string& key, bool append) override {
    return std::make_unique<Watching>(*this, target().writer(key, append));
  }

  PacedBody* body = nullptr;  // without one, writes are only counted
  std::atomic<int> writes{0};
  std::atomic<int> overlapped{0};  // writes during which the body was read

 private:
  class Watching final : public storage::Writer {
   public:
    Watching(WritesWatchingReads& d, std::unique_ptr<storage::Writer> w)
        : d_(d), w_(std::move(w)) {}
    void write(const char* buf, size_t n) override {
      ++d_.writes;
      if (!d_.body) return w_->write(buf, n);
      const uint64_t before = d_.body->reads;
      std::this_thread::sleep_for(kWriteTime);
      w_->write(buf, n);
      if (d_.body->reads != before) ++d_.overlapped;
    }
    uint64_t size() const override { return w_->size(); }
    void commit() override { w_->commit(); }
    void close() override { w_->close(); }
    void cancel() override { w_->cancel(); }

   private:
    WritesWatchingReads& d_;
    std::unique_ptr<storage::Writer> w_;
  };
};

class UploadBodyTest : public ::testing::Test {
 protected:
  UploadBodyTest() : registry(driver, {}), api(registry, {}, nullptr) {
    io_thread = std::thread([this] { io.run(); });
  }
  ~UploadBodyTest() override {
    guard.reset();
    io_thread.join();
    api.finish_blocking_work();
  }

  http::Response handle(std::string method, const std::string& target, http::BodyReader& body) {
    auto req = test::api_request(std::move(method), target, body);
    return net::co_spawn(io, api.handle(req), net::use_future).get();
  }

  static std::string pattern(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 4093) & 0xff);
    return s;
  }

  std::shared_ptr<WritesWatchingReads> driver = std::make_shared<WritesWatchingReads>();
  registry::Registry registry;
  Api api;
  net::io_context io;
  net::executor_work_guard<net::io_context::executor_type> guard = net::make_work_guard(io);
  std::thread io_thread;
};

TEST_F(UploadBodyTest, AFastBodyIsReadWhileItsPreviousBufferIsWritten) {
  const std::string blob = pattern((3 << 20) + 12345);
  const auto id = registry.start_upload("app");
  PacedBody body(blob);
  driver->body = &body;

  auto patched = handle("PATCH", "/v2/app/blobs/uploads/" + id, body);
  EXPECT_EQ(patched.status, 202u);
  EXPECT_EQ(patched.headers.get("Range").value_or(""), "0-" + std::to_string(blob.size() - 1));
  // Writing one buffer after reading it, the body would never be read during a write.
  EXPECT_GE(driver->writes, 3);
  EXPECT_GT(driver->overlapped, 0);

  test::BytesBody none;
  auto put = handle(
      "PUT", "/v2/app/blobs/uploads/" + id + "?digest=" + registry::digest_of(blob).str(), none);
  EXPECT_EQ(put.status, 201u);  // the bytes were written (and hashed) in the body's order
}

TEST_F(UploadBodyTest, AFastBodyGetsFullBuffersAfterItsFirstFill) {
  const std::string blob = pattern(4 << 20);
  const auto id = registry.start_upload("app");
  test::BytesBody body(blob);  // all of it at once: each read fills what it is given

  auto patched = handle("PATCH", "/v2/app/blobs/uploads/" + id, body);
  EXPECT_EQ(patched.status, 202u);
  // 64 KiB, then 1 MiB buffers: 5 writes (6 if the first fill was held up for some ms). Doubling
  // once per fill took 8 (64 KiB, 128 KiB, 256 KiB, 512 KiB, then 1 MiB), each PATCH anew.
  EXPECT_LE(driver->writes, 6);
}

TEST_F(UploadBodyTest, ABodyThatBreaksKeepsEveryByteThatArrived) {
  const std::string blob = pattern(4 << 20);
  const size_t arrived = (2 << 20) + 100;
  const auto id = registry.start_upload("app");
  PacedBody body(blob, arrived);
  driver->body = &body;

  EXPECT_ANY_THROW(handle("PATCH", "/v2/app/blobs/uploads/" + id, body));
  EXPECT_GT(driver->overlapped, 0);  // it broke while buffers were in flight
  EXPECT_EQ(registry.upload_size("app", id), arrived);

  // The client resumes from there and the blob is whole.
  driver->body = nullptr;
  test::BytesBody rest(blob.substr(arrived));
  auto put = handle(
      "PUT", "/v2/app/blobs/uploads/" + id + "?digest=" + registry::digest_of(blob).str(), rest);
  EXPECT_EQ(put.status, 201u);
}

}  // namespace
}  // namespace onsen::api
