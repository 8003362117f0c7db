// How an upload's body reaches storage (api/uploads.cpp, append_body): in the body's order, a
// large buffer written and hashed at once on two threads of the upload pool, the hash that of
// the stored bytes; a fast body gets 1 MiB buffers after its first fill; a body that breaks
// half-way keeps every byte that arrived; a write that fails half-way is reported and keeps the
// bytes before it, from which the upload resumes.
#include "api/api.h"

#include "api_request.h"

#include "registry/digest.h"
#include "storage/forwarding_driver.h"
#include "storage/inmemory.h"
#include "storage/layout.h"

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
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

namespace onsen::api {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

constexpr size_t kPiece = 40 << 10;  // what one socket read brings
constexpr auto kPace = 2ms;          // between two pieces: a 20 MB/s client

// A client's body, kPiece every kPace. With `break_after`, the connection breaks once that many
// bytes have arrived.
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
    co_return n;
  }
  std::optional<uint64_t> content_length() const override { return data_.size(); }

 private:
  std::string data_;
  size_t break_after_;
  size_t at_ = 0;
};

// A driver whose writers count their writes and, while `fail_at` is set, fail as a full disk does
// once an object would grow past it: the bytes up to it are written, then the error.
class CountingDriver final : public storage::ForwardingDriver {
 public:
  CountingDriver() : ForwardingDriver(std::make_shared<storage::InMemoryDriver>()) {}

  std::unique_ptr<storage::Writer> writer(const std::string& key, bool append) override {
    return std::make_unique<Counting>(*this, target().writer(key, append));
  }
  std::unique_ptr<storage::Writer> append_writer(const std::string& key) override {
    auto w = target().append_writer(key);
    return w ? std::make_unique<Counting>(*this, std::move(w)) : nullptr;
  }

  std::atomic<int> writes{0};
  std::atomic<uint64_t> fail_at{std::numeric_limits<uint64_t>::max()};

 private:
  class Counting final : public storage::Writer {
   public:
    Counting(CountingDriver& d, std::unique_ptr<storage::Writer> w) : d_(d), w_(std::move(w)) {}
    void write(const char* buf, size_t n) override {
      ++d_.writes;
      const uint64_t room = d_.fail_at - std::min<uint64_t>(d_.fail_at, w_->size());
      if (n <= room) return w_->write(buf, n);
      w_->write(buf, static_cast<size_t>(room));
      throw storage::Error("write: No space left on device", true);
    }
    uint64_t size() const override { return w_->size(); }
    void commit() override { w_->commit(); }
    void close() override { w_->close(); }
    void cancel() override { w_->cancel(); }

   private:
    CountingDriver& d_;
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

  std::shared_ptr<CountingDriver> driver = std::make_shared<CountingDriver>();
  registry::Registry registry;
  Api api;
  net::io_context io;
  net::executor_work_guard<net::io_context::executor_type> guard = net::make_work_guard(io);
  std::thread io_thread;
};

TEST_F(UploadBodyTest, LargeBuffersAreStoredInTheBodysOrderAndHashedAsStored) {
  const std::string blob = pattern((3 << 20) + 12345);
  const auto id = registry.start_upload("app");
  test::BytesBody first(blob.substr(0, (2 << 20) + 777));  // 1 MiB buffers: store and hash at once
  test::BytesBody rest(blob.substr((2 << 20) + 777));

  auto patched = handle("PATCH", "/v2/app/blobs/uploads/" + id, first);
  EXPECT_EQ(patched.status, 202u);
  auto put = handle(
      "PUT", "/v2/app/blobs/uploads/" + id + "?digest=" + registry::digest_of(blob).str(), rest);
  EXPECT_EQ(put.status, 201u);  // the hash kept along the way is that of the bytes stored
  EXPECT_EQ(
      driver->get_content(storage::layout::blob_data("sha256", registry::digest_of(blob).hex())),
      blob);
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

  EXPECT_ANY_THROW(handle("PATCH", "/v2/app/blobs/uploads/" + id, body));
  EXPECT_EQ(registry.upload_size("app", id), arrived);

  // The client resumes from there and the blob is whole.
  test::BytesBody rest(blob.substr(arrived));
  auto put = handle(
      "PUT", "/v2/app/blobs/uploads/" + id + "?digest=" + registry::digest_of(blob).str(), rest);
  EXPECT_EQ(put.status, 201u);
}

TEST_F(UploadBodyTest, AWriteThatFailsHalfWayIsReportedAndTheUploadResumesFromWhatItKept) {
  const std::string blob = pattern(4 << 20);
  const uint64_t kept = (2 << 20) + 5000;  // inside a 1 MiB buffer, hashed whole beside the write
  const auto id = registry.start_upload("app");
  driver->fail_at = kept;
  test::BytesBody body(blob);

  auto patched = handle("PATCH", "/v2/app/blobs/uploads/" + id, body);
  EXPECT_EQ(patched.status, 507u);
  ASSERT_EQ(registry.upload_size("app", id), kept);
  EXPECT_EQ(driver->get_content(storage::layout::upload_data("app", id)), blob.substr(0, kept));

  // Space again: the client resumes from the offset it is given, and the digest is that of the
  // stored bytes, not of the hash that had run ahead of them.
  driver->fail_at = std::numeric_limits<uint64_t>::max();
  test::BytesBody rest(blob.substr(kept));
  auto put = handle(
      "PUT", "/v2/app/blobs/uploads/" + id + "?digest=" + registry::digest_of(blob).str(), rest);
  EXPECT_EQ(put.status, 201u);
}

}  // namespace
}  // namespace onsen::api
