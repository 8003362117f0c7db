// notify::Notifier against a receiver in the test (a Beast server on 127.0.0.1 that records the
// POSTs and answers each with the next status of a script), and against a port nobody listens on.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "notify/notifier.h"
#include "notify/poster.h"

namespace onsen::notify {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

class Receiver {
 public:
  // Answers the first POSTs with `statuses` in turn, then 200.
  explicit Receiver(std::deque<unsigned> statuses = {}) : statuses_(std::move(statuses)) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] { run(); });
  }
  ~Receiver() {
    boost::system::error_code ec;
    stopping_ = true;
    {
      std::lock_guard lock(mutex_);
      if (open_) open_->shutdown(tcp::socket::shutdown_both, ec);
    }
    // A blocking accept is not woken by closing the acceptor: a connection wakes it.
    tcp::socket wake(io_);
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook?x=1";
  }
  // The requests delivered (answered 2xx) once there are n, or what there is after 10 s.
  std::vector<bhttp::request<bhttp::string_body>> wait(size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return delivered_.size() >= n; });
    return delivered_;
  }
  int connections() const { return connections_; }

 private:
  void run() {
    while (!stopping_) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++connections_;
      {
        std::lock_guard lock(mutex_);
        open_ = &socket;
      }
      boost::beast::flat_buffer buffer;
      for (;;) {  // keep-alive: requests until the sender closes
        bhttp::request<bhttp::string_body> req;
        bhttp::read(socket, buffer, req, ec);
        if (ec) break;
        unsigned status = 200;
        {
          std::lock_guard lock(mutex_);
          if (!statuses_.empty()) {
            status = statuses_.front();
            statuses_.pop_front();
          }
          if (status < 300) delivered_.push_back(req);
        }
        changed_.notify_all();
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
        res.prepare_payload();
        bhttp::write(socket, res, ec);
        if (ec) break;
      }
      std::lock_guard lock(mutex_);
      open_ = nullptr;
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<unsigned> statuses_;
  std::vector<bhttp::request<bhttp::string_body>> delivered_;
  tcp::socket* open_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

std::shared_ptr<const Event> event(std::string action, std::string media_type, int n) {
  return std::make_shared<Event>(
      Event{std::move(action), std::move(media_type), "{\"n\":" + std::to_string(n) + "}"});
}

EndpointOptions options(std::string url) {
  EndpointOptions o;
  o.name = "test";
  o.url = std::move(url);
  o.timeout = 2s;
  o.threshold = 2;
  o.backoff = 50ms;
  return o;
}

TEST(Notifier, PostsEachEventInAnEnvelopeOnOneKeptAliveConnection) {
  Receiver receiver;
  auto o = options(receiver.url());
  o.headers = {{"Authorization", "Bearer t"}, {"X-Two", "a"}, {"X-Two", "b"}};
  Notifier notifier({o});
  for (int i = 0; i < 3; ++i) notifier.publish(event("push", "application/octet-stream", i));
  auto got = receiver.wait(3);
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].method(), bhttp::verb::post);
    EXPECT_EQ(got[i].target(), "/hook?x=1");
    EXPECT_EQ(got[i][bhttp::field::content_type], kEventsMediaType);
    EXPECT_EQ(got[i]["Authorization"], "Bearer t");
    EXPECT_EQ(got[i].count("X-Two"), 2u);
    EXPECT_EQ(got[i].body(), "{\"events\":[{\"n\":" + std::to_string(i) + "}]}");
  }
  EXPECT_EQ(receiver.connections(), 1);
  const EndpointCounters& c = notifier.endpoints().at(0).counters;
  EXPECT_EQ(c.queued.load(), 3u);
  // sent moves right after the receiver answered: wait for it with a bound.
  for (int i = 0; i < 200 && c.sent.load() < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(c.sent.load(), 3u);
  EXPECT_EQ(c.pending.load(), 0u);
}

TEST(Notifier, RetriesTheSameEventUntilAccepted) {
  Receiver receiver({500, 503, 404, 500});  // four failures: past the threshold, backing off
  Notifier notifier({options(receiver.url())});
  notifier.publish(event("push", "", 1));
  notifier.publish(event("push", "", 2));
  auto got = receiver.wait(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body(), R"({"events":[{"n":1}]})");
  EXPECT_EQ(got[1].body(), R"({"events":[{"n":2}]})");
  EXPECT_EQ(notifier.endpoints().at(0).counters.failed.load(), 4u);
}

TEST(Notifier, IgnoresActionsAndMediaTypes) {
  Receiver receiver;
  auto o = options(receiver.url());
  o.ignored_actions = {"pull"};
  o.ignored_media_types = {"application/octet-stream"};
  Notifier notifier({o});
  notifier.publish(event("pull", "application/vnd.oci.image.manifest.v1+json", 1));
  notifier.publish(event("push", "application/octet-stream", 2));
  notifier.publish(event("delete", "", 3));  // no media type: never ignored by type
  auto got = receiver.wait(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body(), R"({"events":[{"n":3}]})");
  EXPECT_EQ(notifier.endpoints().at(0).counters.queued.load(), 1u);
}

TEST(Notifier, AFullQueueDropsAndCountsWithoutWaiting) {
  // A port nobody listens on: every POST fails, the queue fills.
  asio::io_context io;
  tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = probe.local_endpoint().port();
  probe.close();
  auto o = options("http://127.0.0.1:" + std::to_string(port) + "/");
  o.queue_size = 3;
  o.backoff = 10s;  // the sender waits; publish must not
  Notifier notifier({o});
  for (int i = 0; i < 10; ++i) notifier.publish(event("push", "", i));
  const EndpointCounters& c = notifier.endpoints().at(0).counters;
  EXPECT_EQ(c.queued.load(), 3u);
  EXPECT_EQ(c.dropped.load(), 7u);
  EXPECT_EQ(c.pending.load(), 3u);
  EXPECT_EQ(c.sent.load(), 0u);
  // The destructor stops the sender in its backoff: this test ends without waiting 10 s.
}

TEST(Notifier, RefusesAUrlThatIsNotHttp) {
  EXPECT_THROW(Notifier({options("ftp://x/")}), std::invalid_argument);
}

TEST(ParseUrl, Parts) {
  Url u = parse_url("https://hooks.example.com/a/b?c=d#frag");
  EXPECT_TRUE(u.https);
  EXPECT_EQ(u.host, "hooks.example.com");
  EXPECT_EQ(u.port, "443");
  EXPECT_EQ(u.target, "/a/b?c=d");
  EXPECT_EQ(u.host_header(), "hooks.example.com");
  u = parse_url("http://[::1]:8080");
  EXPECT_FALSE(u.https);
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, "8080");
  EXPECT_EQ(u.target, "/");
  EXPECT_EQ(u.host_header(), "[::1]:8080");
  EXPECT_EQ(parse_url("http://h?q").target, "/?q");
  EXPECT_THROW(parse_url("http://user:pw@h/"), std::invalid_argument);
  EXPECT_THROW(parse_url("http:///x"), std::invalid_argument);
  EXPECT_THROW(parse_url("h:80/x"), std::invalid_argument);
}

}  // namespace
}  // namespace onsen::notify
