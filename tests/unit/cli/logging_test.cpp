// The JSON log line formatter (log.formatter: json): every line parses as one JSON object whose
// msg is the message exactly, whatever bytes the message holds.
#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>

#include <nlohmann/json.hpp>

#include "base/request_context.h"
#include "cli/logging.h"

namespace onsen::cli {
namespace {

std::string line_for(spdlog::formatter& f, std::string_view text,
                     spdlog::level::level_enum level = spdlog::level::info) {
  spdlog::details::log_msg msg("onsen", level, spdlog::string_view_t(text.data(), text.size()));
  spdlog::memory_buf_t out;
  f.format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(JsonLogFormat, OneObjectPerLineWithTimeLevelMessageAndFields) {
  auto f = make_json_formatter({{"service", "registry"}, {"environment", "staging"}});
  std::string line = line_for(*f, "listening on 127.0.0.1:5000", spdlog::level::warn);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["msg"], "listening on 127.0.0.1:5000");
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["service"], "registry");
  EXPECT_EQ(j["environment"], "staging");
  // 2026-12-03T10:35:39.543Z
  std::string time = j["time"];
  ASSERT_EQ(time.size(), 24u) << time;
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time.back(), 'Z');
}

TEST(JsonLogFormat, MessagesAreEscaped) {
  auto f = make_json_formatter({});
  const std::string nasty = std::string("say \"hi\" \\ back\nslash\r\ttab \x01\x1f\x7f nul:") +
                            '\0' + " caf\xc3\xa9 \xf0\x9f\x90\xb3 end";
  std::string line = line_for(*f, nasty);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;  // the newline is escaped
  EXPECT_EQ(nlohmann::json::parse(line)["msg"], nasty);
}

TEST(JsonLogFormat, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  auto f = make_json_formatter({});
  // A lone continuation byte, a truncated sequence, an overlong '/', a surrogate.
  std::string line = line_for(*f, "a\x80z \xe2\x82 \xc0\xaf \xed\xa0\x80!");
  auto j = nlohmann::json::parse(line);  // throws on invalid UTF-8
  EXPECT_EQ(j["msg"],
            "a\xef\xbf\xbdz \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!");
}

TEST(JsonLogFormat, FieldsNamedLikeTheStandardKeysArePrefixed) {
  auto f = make_json_formatter({{"msg", "x\"y"}, {"level", "z"}});
  auto j = nlohmann::json::parse(line_for(*f, "m", spdlog::level::critical));
  EXPECT_EQ(j["msg"], "m");
  EXPECT_EQ(j["level"], "fatal");
  EXPECT_EQ(j["fields.msg"], "x\"y");
  EXPECT_EQ(j["fields.level"], "z");
  auto copy = f->clone();
  EXPECT_EQ(nlohmann::json::parse(line_for(*copy, "m"))["fields.msg"], "x\"y");
}

// A line written while serving a request carries its id; one written outside none.
TEST(JsonLogFormat, LinesOfARequestCarryItsId) {
  auto f = make_json_formatter({{"service", "registry"}});
  EXPECT_FALSE(nlohmann::json::parse(line_for(*f, "idle")).contains("http.request.id"));
  const std::string id = "4b0c2d6e-1f3a-4c5b-9d7e-8f9a0b1c2d3e";
  {
    base::RequestIdScope scope(&id);
    auto j = nlohmann::json::parse(line_for(*f, "storage error"));
    EXPECT_EQ(j["http.request.id"], id);
    EXPECT_EQ(j["service"], "registry");
  }
  EXPECT_FALSE(nlohmann::json::parse(line_for(*f, "idle")).contains("http.request.id"));
}

}  // namespace
}  // namespace onsen::cli
