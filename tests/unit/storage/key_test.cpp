#include <gtest/gtest.h>

#include <string>

#include "storage/driver.h"

namespace onsen::storage {
namespace {

TEST(ValidateKey, AcceptsAbsoluteKeys) {
  for (const char* key : {"/", "/a", "/a/b", "/docker/registry/v2/blobs/sha256/ab/abcdef/data",
                          "/a/.b/..c/d.", "/a/b-c_d.e"}) {
    EXPECT_NO_THROW(validate_key(key)) << key;
  }
}

TEST(ValidateKey, RejectsTraversalAndOddities) {
  for (const std::string& key :
       {std::string(""), std::string("a"), std::string("a/b"), std::string("//"),
        std::string("/a//b"), std::string("/a/"), std::string("/."), std::string("/.."),
        std::string("/a/./b"), std::string("/a/../b"), std::string("/a/.."), std::string("/a\\b"),
        std::string("/a\0b", 4)}) {
    EXPECT_THROW(validate_key(key), Error) << ::testing::PrintToString(key);
  }
}

TEST(ValidateKey, MessageEscapesControlBytes) {
  try {
    validate_key(std::string("/a\0\n/../b", 9));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "invalid storage key \"/a\\x00\\x0a/../b\"");
  }
}

}  // namespace
}  // namespace onsen::storage
