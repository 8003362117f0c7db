// storage.gc.window as the scheduler reads it (cli/gc_scheduler.h): open or not at a moment of
// local time, and when the opening ends, for windows inside a day and across midnight.
#include <gtest/gtest.h>

#include "cli/gc_scheduler.h"

#include <cstdlib>
#include <ctime>

namespace onsen::cli {
namespace {

using namespace std::chrono;

class GcWindowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = std::getenv("TZ");
    if (tz) saved_ = tz;
    had_tz_ = tz != nullptr;
    setenv("TZ", "UTC", 1);
    tzset();
  }
  void TearDown() override {
    if (had_tz_) {
      setenv("TZ", saved_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  // 2026-12-03 at hh:mm:ss UTC.
  static system_clock::time_point at(int hh, int mm, int ss = 0) {
    return sys_days(year(2026) / December / 3) + hours(hh) + minutes(mm) + seconds(ss);
  }
  std::string saved_;
  bool had_tz_ = false;
};

TEST_F(GcWindowTest, InsideADay) {
  const std::pair<int, int> window{60, 5 * 60};  // 01:00-05:00
  EXPECT_FALSE(window_position(window, at(0, 59, 59)).open);
  auto p = window_position(window, at(1, 0));
  EXPECT_TRUE(p.open);
  EXPECT_EQ(p.closes, at(5, 0));
  p = window_position(window, at(4, 59, 30));
  EXPECT_TRUE(p.open);
  EXPECT_EQ(p.closes, at(5, 0));
  EXPECT_FALSE(window_position(window, at(5, 0)).open);  // the end is outside
  EXPECT_FALSE(window_position(window, at(23, 0)).open);
}

TEST_F(GcWindowTest, AcrossMidnight) {
  const std::pair<int, int> window{22 * 60 + 30, 2 * 60};  // 22:30-02:00
  EXPECT_FALSE(window_position(window, at(22, 29)).open);
  auto p = window_position(window, at(23, 15, 10));
  EXPECT_TRUE(p.open);
  EXPECT_EQ(p.closes, at(23, 15) + minutes(165));  // 02:00 the next day
  p = window_position(window, at(1, 59));
  EXPECT_TRUE(p.open);
  EXPECT_EQ(p.closes, at(2, 0));
  EXPECT_FALSE(window_position(window, at(2, 0)).open);
  EXPECT_FALSE(window_position(window, at(12, 0)).open);
}

}  // namespace
}  // namespace onsen::cli
