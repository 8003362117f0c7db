// Request ids: new ones are distinct version-4 UUIDs; an incoming X-Request-Id is kept only when
// it is short and made of plain characters.
#include "http/request_id.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace onsen::http {
namespace {

TEST(RequestId, NewIdsAreDistinctVersion4Uuids) {
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  std::string id;
  for (int i = 0; i < 10000; ++i) {
    assign_request_id(id, std::nullopt);
    ASSERT_TRUE(std::regex_match(id, uuid)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(RequestId, AnIncomingIdIsKeptOnlyWhenPlainAndShort) {
  std::string id;
  assign_request_id(id, "0f3a9c1e7b2d4e5f");
  EXPECT_EQ(id, "0f3a9c1e7b2d4e5f");
  assign_request_id(id, std::string(kMaxRequestIdLength, 'x'));
  EXPECT_EQ(id, std::string(kMaxRequestIdLength, 'x'));
  for (std::string bad : {std::string(), std::string(kMaxRequestIdLength + 1, 'x'),
                          std::string("a b"), std::string("a\"b"), std::string("a\nb"),
                          std::string("caf\xc3\xa9"), std::string("a=b;c")}) {
    EXPECT_FALSE(acceptable_request_id(bad)) << bad;
    assign_request_id(id, bad);
    EXPECT_EQ(id.size(), 36u) << bad;
  }
  EXPECT_TRUE(acceptable_request_id("Root-1.abc_def:9"));
}

}  // namespace
}  // namespace onsen::http
