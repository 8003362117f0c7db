#include "api/byte_range.h"

#include <gtest/gtest.h>

namespace onsen::api {
namespace {

TEST(Range, Forms) {
  ByteRange r;
  ASSERT_EQ(parse_range("bytes=0-9", 100, &r), RangeResult::kPartial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 9u);
  ASSERT_EQ(parse_range("bytes=10-", 100, &r), RangeResult::kPartial);
  EXPECT_EQ(r.first, 10u);
  EXPECT_EQ(r.last, 99u);
  ASSERT_EQ(parse_range("bytes=-5", 100, &r), RangeResult::kPartial);
  EXPECT_EQ(r.first, 95u);
  EXPECT_EQ(r.last, 99u);
  ASSERT_EQ(parse_range("bytes=90-1000", 100, &r), RangeResult::kPartial);
  EXPECT_EQ(r.last, 99u);
  ASSERT_EQ(parse_range("bytes=-500", 100, &r), RangeResult::kPartial);
  EXPECT_EQ(r.first, 0u);
}

TEST(Range, UnsatisfiableAndIgnored) {
  ByteRange r;
  EXPECT_EQ(parse_range("bytes=100-", 100, &r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-0", 0, &r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 100, &r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=5-1", 100, &r), RangeResult::kWhole);
  EXPECT_EQ(parse_range("bytes=0-1,5-6", 100, &r), RangeResult::kWhole);
  EXPECT_EQ(parse_range("items=0-1", 100, &r), RangeResult::kWhole);
  EXPECT_EQ(parse_range("bytes=a-b", 100, &r), RangeResult::kWhole);
  EXPECT_EQ(parse_range("bytes=99999999999999999999999-", 100, &r), RangeResult::kWhole);
}

TEST(ContentRange, Parses) {
  auto r = parse_content_range("0-99");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->length(), 100u);
  EXPECT_TRUE(parse_content_range("bytes 5-9/10"));
  EXPECT_TRUE(parse_content_range("bytes=5-9"));
  EXPECT_FALSE(parse_content_range("9-5"));
  EXPECT_FALSE(parse_content_range("-5"));
  EXPECT_FALSE(parse_content_range("5-"));
  EXPECT_FALSE(parse_content_range(""));
  EXPECT_FALSE(parse_content_range("x-y"));
  EXPECT_FALSE(parse_content_range("1-2-3"));
}

}  // namespace
}  // namespace onsen::api
