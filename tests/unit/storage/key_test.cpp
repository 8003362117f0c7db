#include <gtest/gtest.h>

#include <string>

#include "storage/driver.h"
#include "storage/layout.h"

namespace onsen::storage {
namespace {

TEST(Layout, UploadFilesAreTheKeysInsideAnUploadDirectory) {
  EXPECT_TRUE(layout::is_upload_file(layout::upload_data("a/b", "u-1")));
  EXPECT_TRUE(layout::is_upload_file(layout::upload_dir("a", "u") + "/chunk"));
  EXPECT_TRUE(layout::is_upload_file(layout::upload_hash_state("a", "u", "sha256", 0)));
  EXPECT_TRUE(layout::is_upload_file("/repo/_uploads/u1/data"));
  for (const std::string& key :
       {layout::blob_data("sha256", "abcd"), layout::layer_link("a", "sha256", "ab"),
        layout::tag_current_link("a", "t"), layout::upload_dir("a", "u"), layout::uploads_dir("a"),
        std::string("/repo/_uploads//data"), std::string("/up/data")}) {
    EXPECT_FALSE(layout::is_upload_file(key)) << key;
  }
}

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
