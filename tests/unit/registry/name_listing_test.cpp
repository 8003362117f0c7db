// NameListing: sorted, deduplicated names and their precomputed JSON pages.
#include "registry/name_listing.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace onsen::registry {
namespace {

std::string page(const NameListing& names, size_t begin, size_t end) {
  std::string out;
  names.append_json(out, begin, end);
  return out;
}

TEST(NameListingTest, SortsAndDeduplicates) {
  NameListing names({"b", "a/c", "a", "b", "a/b"});
  EXPECT_EQ(names.names(), (std::vector<std::string>{"a", "a/b", "a/c", "b"}));
  EXPECT_TRUE(names.contains("a/b"));
  EXPECT_FALSE(names.contains("a/"));
}

TEST(NameListingTest, AfterIsTheFirstNameGreaterThanLast) {
  NameListing names({"a", "c", "e"});
  EXPECT_EQ(names.after(""), 0u);
  EXPECT_EQ(names.after("a"), 1u);
  EXPECT_EQ(names.after("b"), 1u);
  EXPECT_EQ(names.after("e"), 3u);
  EXPECT_EQ(names.after("z"), 3u);
}

TEST(NameListingTest, PagesAreJsonArraysOfTheRange) {
  NameListing names({"a", "bb", "ccc"});
  EXPECT_EQ(page(names, 0, 3), R"(["a","bb","ccc"])");
  EXPECT_EQ(page(names, 1, 2), R"(["bb"])");
  EXPECT_EQ(page(names, 2, 10), R"(["ccc"])");  // end is clamped
  EXPECT_EQ(page(names, 1, 1), "[]");
  EXPECT_EQ(page(names, 3, 3), "[]");
  EXPECT_EQ(page(NameListing({}), 0, 0), "[]");
}

TEST(NameListingTest, EscapesWhatJsonRequiresAndReplacesInvalidUtf8) {
  NameListing names({"q\"uote", "back\\slash", std::string("ctl\x01"), "bad\xff"});
  auto parsed = nlohmann::json::parse(page(names, 0, names.size()));
  ASSERT_EQ(parsed.size(), 4u);
  EXPECT_EQ(parsed[0], "back\\slash");
  EXPECT_EQ(parsed[1], "bad\xEF\xBF\xBD");  // U+FFFD
  EXPECT_EQ(parsed[2], std::string("ctl\x01"));
  EXPECT_EQ(parsed[3], "q\"uote");
}

}  // namespace
}  // namespace onsen::registry
