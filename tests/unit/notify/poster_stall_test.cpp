// A webhook receiver that accepts the connection and then stalls (never reads nor answers, or
// stops in the middle of its answer) costs one POST its timeout, no more: notify::Poster runs
// every step as an asynchronous operation under one deadline (beast::tcp_stream), which the
// blocking SO_RCVTIMEO-style timeouts the s3 client used to have would not honour.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "notify/poster.h"
#include "support/stall_server.h"

namespace onsen::notify {
namespace {

using namespace std::chrono_literals;
using test::StallServer;

double post_seconds(StallServer& receiver, const std::string& body) {
  Poster poster(parse_url(receiver.endpoint() + "/events"), {}, 500ms);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(poster.post("application/json", body), PostError);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(PosterStall, AReceiverThatNeverAnswersCostsTheTimeout) {
  StallServer receiver({.mode = StallServer::Mode::kSilent});
  // A small envelope (the socket buffers take it) and one the receiver must read to take.
  EXPECT_LT(post_seconds(receiver, "{\"events\":[]}"), 15.0);
  EXPECT_LT(post_seconds(receiver, std::string(32 << 20, ' ')), 15.0);
}

TEST(PosterStall, AnAnswerThatStopsHalfwayCostsTheTimeout) {
  StallServer receiver({.mode = StallServer::Mode::kHeadThenStall, .body_size = 4096});
  EXPECT_LT(post_seconds(receiver, "{\"events\":[]}"), 15.0);
}

}  // namespace
}  // namespace onsen::notify
