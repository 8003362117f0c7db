#include "base/duration.h"

#include <gtest/gtest.h>

namespace onsen::base {
namespace {

using namespace std::chrono_literals;

TEST(GoDuration, ParsesSingleUnits) {
  EXPECT_EQ(parse_go_duration("168h"), 168h);
  EXPECT_EQ(parse_go_duration("24h"), 24h);
  EXPECT_EQ(parse_go_duration("30m"), 30min);
  EXPECT_EQ(parse_go_duration("10s"), 10s);
  EXPECT_EQ(parse_go_duration("300ms"), 300ms);
  EXPECT_EQ(parse_go_duration("5us"), 5us);
  EXPECT_EQ(parse_go_duration("5\xC2\xB5s"), 5us);
  EXPECT_EQ(parse_go_duration("7ns"), 7ns);
}

TEST(GoDuration, ParsesCompoundsFractionsAndSigns) {
  EXPECT_EQ(parse_go_duration("1h30m"), 90min);
  EXPECT_EQ(parse_go_duration("2h10m5s"), 2h + 10min + 5s);
  EXPECT_EQ(parse_go_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_go_duration(".5h"), 30min);
  EXPECT_EQ(parse_go_duration("1.h"), 1h);
  EXPECT_EQ(parse_go_duration("-1m"), -1min);
  EXPECT_EQ(parse_go_duration("+2s"), 2s);
  EXPECT_EQ(parse_go_duration("0"), 0s);
  EXPECT_EQ(parse_go_duration("-0"), 0s);
}

TEST(GoDuration, RejectsWhatGoRejects) {
  for (const char* bad : {"", "60", "h", "1x", "1 h", "1h 30m", ".s", "1..5s", "-", "1hh", "maybe",
                          "3000 s", "9999999999999999999h"}) {
    EXPECT_FALSE(parse_go_duration(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace onsen::base
