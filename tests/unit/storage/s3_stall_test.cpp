// "Never a hang": an S3 gateway that accepts connections and then stalls (answers nothing, or
// stops in the middle of a body, or takes no more request bytes) turns into a NetworkError within
// the client's timeout, and into the driver's Unavailable error (503 at the API) after its
// retries; a body that keeps flowing is not cut however long it takes. Real sockets on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "storage/factory.h"
#include "storage/s3/http_client.h"
#include "support/stall_server.h"

namespace onsen::storage::s3 {
namespace {

using namespace std::chrono_literals;
using test::StallServer;
using Clock = std::chrono::steady_clock;

// Generous for a loaded 2-core CI machine: the timeout is 1 s, a hang would be forever.
constexpr double kBoundSeconds = 15;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

HttpRequest get(const std::string& target) {
  HttpRequest req;
  req.method = "GET";
  req.target = target;
  return req;
}

TEST(S3Stall, AnAnswerThatNeverComesTimesOut) {
  StallServer gateway({.mode = StallServer::Mode::kSilent});
  HttpClient client(parse_endpoint(gateway.endpoint(), false), 1s);
  const auto start = Clock::now();
  EXPECT_THROW(client.send(get("/bucket/key")), NetworkError);
  EXPECT_LT(seconds_since(start), kBoundSeconds);
  EXPECT_GE(seconds_since(start), 0.9);  // it did wait for the answer, about the timeout
  EXPECT_EQ(gateway.connections(), 1);
}

TEST(S3Stall, ABodyThatStopsHalfwayTimesOut) {
  StallServer gateway({.mode = StallServer::Mode::kHeadThenStall, .body_size = 1 << 20});
  HttpClient client(parse_endpoint(gateway.endpoint(), false), 1s);
  // Read whole (send) and streamed (open, as a blob GET): the head arrives, the body stops.
  auto start = Clock::now();
  EXPECT_THROW(client.send(get("/bucket/blob")), NetworkError);
  EXPECT_LT(seconds_since(start), kBoundSeconds);

  auto stream = client.open(get("/bucket/blob"));
  ASSERT_EQ(stream->head().status, 200u);
  start = Clock::now();
  std::string got;
  try {
    got = stream->read_all();
    ADD_FAILURE() << "a body cut short read as complete (" << got.size() << " bytes)";
  } catch (const NetworkError& e) {
    EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
  }
  EXPECT_LT(seconds_since(start), kBoundSeconds);
}

TEST(S3Stall, ARequestBodyTheGatewayStopsTakingTimesOut) {
  // The gateway never reads: 64 MiB fill the loopback socket buffers long before the end.
  StallServer gateway({.mode = StallServer::Mode::kSilent});
  HttpClient client(parse_endpoint(gateway.endpoint(), false), 1s);
  const std::string body(64 << 20, 'b');
  HttpRequest req;
  req.method = "PUT";
  req.target = "/bucket/big";
  req.body = body;
  const auto start = Clock::now();
  EXPECT_THROW(client.send(req), NetworkError);
  EXPECT_LT(seconds_since(start), kBoundSeconds);
}

TEST(S3Stall, ASlowBodyThatKeepsFlowingIsNotCut) {
  // 10 pieces 300 ms apart: 3 s in all, three times the timeout, never 1 s of silence.
  StallServer gateway({.mode = StallServer::Mode::kTrickle,
                       .body_size = 10 * 1000,
                       .body_sent = 1000,
                       .interval = 300ms});
  HttpClient client(parse_endpoint(gateway.endpoint(), false), 1s);
  auto stream = client.open(get("/bucket/slow"));
  ASSERT_EQ(stream->head().status, 200u);
  EXPECT_EQ(stream->read_all(), std::string(10 * 1000, 'x'));
}

TEST(S3Stall, TheDriverRetriesThenReportsUnavailable) {
  StallServer gateway({.mode = StallServer::Mode::kSilent});
  Parameters params = {{"region", "us-east-1"}, {"bucket", "b"},
                       {"accesskey", "a"},      {"secretkey", "s"},
                       {"secure", "false"},     {"regionendpoint", gateway.endpoint()},
                       {"timeout", "1s"}};
  auto driver = make_driver("s3", params);
  const auto start = Clock::now();
  try {
    driver->get_content("/docker/registry/v2/repositories/r/_layers/link");
    ADD_FAILURE() << "a stalled gateway answered";
  } catch (const Error& e) {
    EXPECT_TRUE(e.unavailable()) << e.what();  // the API's 503 UNAVAILABLE
  }
  // Every attempt (5) waited its timeout on a fresh connection; backoff adds under 2 s.
  EXPECT_LT(seconds_since(start), kBoundSeconds);
  EXPECT_GT(gateway.connections(), 1);
}

TEST(S3Stall, TheTimeoutParameterIsAGoDuration) {
  Parameters params = {{"region", "us-east-1"}, {"bucket", "b"}, {"timeout", "soon"}};
  EXPECT_THROW(check_parameters("s3", params), ParameterError);
  params["timeout"] = "0s";
  EXPECT_THROW(check_parameters("s3", params), ParameterError);
  params["timeout"] = "1m30s";
  EXPECT_TRUE(check_parameters("s3", params).empty());  // known: no "unknown key" warning
}

}  // namespace
}  // namespace onsen::storage::s3
