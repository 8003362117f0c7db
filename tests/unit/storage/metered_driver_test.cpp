// storage::MeteredDriver over the in-memory driver: every call is counted and timed under its
// operation, one that throws is also an error, a missing key is not, and the results pass through.
#include <gtest/gtest.h>

#include "storage/inmemory.h"
#include "storage/metered_driver.h"

#include <memory>

namespace onsen::storage {
namespace {

using Op = MeteredDriver::Op;

TEST(MeteredDriver, CountsCallsErrorsAndLatencyPerOperation) {
  MeteredDriver d(std::make_shared<InMemoryDriver>());
  d.put_content("/a/b", "hello");
  d.put_content_volatile("/a/c", "x");
  EXPECT_EQ(d.get_content("/a/b"), "hello");
  EXPECT_EQ(d.get_content("/a/missing"), std::nullopt);  // not found: no error
  EXPECT_ANY_THROW(d.get_content("/a/../b"));            // refused key: an error
  EXPECT_TRUE(d.stat("/a/b").has_value());
  EXPECT_EQ(d.reader("/a/b", 1)->size(), 5u);
  d.move("/a/c", "/a/d");
  EXPECT_TRUE(d.remove("/a/d"));
  EXPECT_EQ(d.list("/a")->size(), 1u);

  auto calls = [&](Op op) { return d.meter(op).calls.load(); };
  auto errors = [&](Op op) { return d.meter(op).errors.load(); };
  EXPECT_EQ(calls(Op::kPutContent), 2u);
  EXPECT_EQ(calls(Op::kGetContent), 3u);
  EXPECT_EQ(errors(Op::kGetContent), 1u);
  EXPECT_EQ(errors(Op::kPutContent), 0u);
  EXPECT_EQ(calls(Op::kStat), 1u);
  EXPECT_EQ(calls(Op::kReader), 1u);
  EXPECT_EQ(calls(Op::kMove), 1u);
  EXPECT_EQ(calls(Op::kRemove), 1u);
  EXPECT_EQ(calls(Op::kList), 1u);
  EXPECT_EQ(calls(Op::kWriter), 0u);
  EXPECT_EQ(d.meter(Op::kGetContent).latency.snapshot().count, 3u);
  EXPECT_EQ(MeteredDriver::op_name(Op::kGetContent), "get_content");
  EXPECT_EQ(MeteredDriver::op_name(Op::kUrlFor), "url_for");
}

}  // namespace
}  // namespace onsen::storage
