// The access log's combined line: Apache's combined log format, fields escaped so that the line
// always parses, the request id last.
#include "http/access_log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace onsen::http {
namespace {

std::string line_of(const AccessRecord& r) {
  fmt::memory_buffer out;
  append_combined_log_line(out, r);
  return fmt::to_string(out);
}

// 2026-12-04T04:07:41Z
const auto kTime = std::chrono::system_clock::from_time_t(1796357261);

TEST(CombinedLogLine, FieldsInApachesOrder) {
  Peer peer{"127.0.0.1", 51234};
  AccessRecord r{.id = "4b0c",
                 .peer = &peer,
                 .user = "alice",
                 .method = "GET",
                 .target = "/v2/a/manifests/latest?x=1",
                 .version = 11,
                 .referer = "http://example/",
                 .user_agent = "docker/24.0.7 go/go1.20.10",
                 .status = 200,
                 .bytes = 1234,
                 .received = kTime};
  EXPECT_EQ(line_of(r),
            "127.0.0.1 - alice [04/Dec/2026:04:07:41 +0000] \"GET /v2/a/manifests/latest?x=1 "
            "HTTP/1.1\" 200 1234 \"http://example/\" \"docker/24.0.7 go/go1.20.10\" \"4b0c\"\n");
}

TEST(CombinedLogLine, MissingFieldsAreDashesAndOddBytesEscaped) {
  Peer unix_peer{};
  AccessRecord r{.id = "id",
                 .peer = &unix_peer,
                 .user = "bad user\"",
                 .method = "GET",
                 .target = "/a\"b\\c",
                 .version = 10,
                 .user_agent = "x\"y\\z\n\xff",
                 .status = 404,
                 .received = kTime};
  EXPECT_EQ(
      line_of(r),
      "- - bad\\x20user\\x22 [04/Dec/2026:04:07:41 +0000] \"GET /a\\\"b\\\\c HTTP/1.0\" 404 0 "
      "\"-\" \"x\\\"y\\\\z\\x0a\\xff\" \"id\"\n");
  AccessRecord unparsed{.id = "id", .peer = &unix_peer, .status = 400, .received = kTime};
  EXPECT_EQ(line_of(unparsed),
            "- - - [04/Dec/2026:04:07:41 +0000] \"-\" 400 0 \"-\" \"-\" \"id\"\n");
}

}  // namespace
}  // namespace onsen::http
