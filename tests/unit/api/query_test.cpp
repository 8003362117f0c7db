#include "api/query.h"

#include <gtest/gtest.h>

namespace onsen::api {
namespace {

TEST(Query, DecodesParameters) {
  Query q("n=10&last=a%2Fb&mount=sha256%3Aabc&flag");
  EXPECT_EQ(q.get("n"), "10");
  EXPECT_EQ(q.get("last"), "a/b");
  EXPECT_EQ(q.get("mount"), "sha256:abc");
  EXPECT_EQ(q.get("flag"), "");
  EXPECT_FALSE(q.get("missing"));
  EXPECT_FALSE(Query("").get("n"));
}

}  // namespace
}  // namespace onsen::api
