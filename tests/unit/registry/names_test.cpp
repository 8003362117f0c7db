#include "registry/names.h"

#include <gtest/gtest.h>

#include <string>

namespace onsen::registry {
namespace {

TEST(RepositoryName, Valid) {
  const std::string good[] = {
      "a",
      "a/b/c",
      "a__b",
      "a--b",
      "a---b",
      "a.b",
      "a_b",
      "library/ubuntu",
      "0",
      "a0/b1.c2_d3__e4-f5",
      "foo/bar-baz/qux",
      std::string(255, 'a'),
      std::string(127, 'a') + "/" + std::string(127, 'b'),
  };
  for (const auto& name : good) EXPECT_TRUE(valid_repository_name(name)) << name;
}

TEST(RepositoryName, Invalid) {
  const std::string bad[] = {
      "",
      "-a",
      "a-",
      "A",
      "a/B",
      "a//b",
      "a/",
      "/a",
      "/",
      "a___b",
      "a._b",
      "a.-b",
      "_a",
      "a_",
      ".a",
      "a.",
      "a..b",
      "a b",
      "a:b",
      "a@b",
      "a\\b",
      "ä",
      "a/-b",
      "a/b_",
      "a\n",
      "a/./b",
      "a/../b",
      std::string(256, 'a'),
      std::string(128, 'a') + "/" + std::string(127, 'b'),
      std::string("a\0b", 3),
  };
  for (const auto& name : bad) EXPECT_FALSE(valid_repository_name(name)) << name;
}

TEST(RepositoryName, LongHostileInputIsFast) {
  // Way over the limit: rejected by length without scanning.
  EXPECT_FALSE(valid_repository_name(std::string(10'000'000, 'a')));
  std::string dashes = "a" + std::string(253, '-');
  EXPECT_FALSE(valid_repository_name(dashes));
  EXPECT_TRUE(valid_repository_name(dashes + "b"));
}

TEST(Tag, Valid) {
  const std::string good[] = {"latest",
                              "v1.2.3",
                              "_",
                              "A",
                              "0",
                              "1.0-rc_1",
                              "a.b-c_d",
                              "_private",
                              std::string(128, 'x'),
                              "x" + std::string(127, '-')};
  for (const auto& tag : good) EXPECT_TRUE(valid_tag(tag)) << tag;
}

TEST(Tag, Invalid) {
  const std::string bad[] = {
      "",
      ".hidden",
      "-dash",
      std::string(129, 'x'),
      "a/b",
      "a:b",
      "a b",
      "a@sha256",
      "a+b",
      "ä",
      "v1\n",
      std::string("a\0", 2),
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"};
  for (const auto& tag : bad) EXPECT_FALSE(valid_tag(tag)) << tag;
}

TEST(UploadId, Valid) {
  EXPECT_TRUE(valid_upload_id("123e4567-e89b-42d3-a456-426614174000"));
  EXPECT_TRUE(valid_upload_id("00000000-0000-0000-0000-000000000000"));
  EXPECT_TRUE(valid_upload_id("ffffffff-ffff-4fff-bfff-ffffffffffff"));
}

TEST(UploadId, Invalid) {
  const std::string bad[] = {
      "",
      "123E4567-E89B-42D3-A456-426614174000",   // uppercase
      "123e4567e89b42d3a456426614174000",       // no dashes
      "123e4567-e89b-42d3-a456-42661417400",    // short
      "123e4567-e89b-42d3-a456-4266141740000",  // long
      "123e4567-e89b-42d3-a456_426614174000",   // wrong separator
      "123e4567-e89b-42d3-a4567-26614174000",   // dash misplaced
      "123e4567-e89b-42d3-a456-42661417400g",   // non-hex
      "../../../../etc/passwd-aaaaaaaaaaaaaa",
      "{123e4567-e89b-42d3-a456-426614174000}",
  };
  for (const auto& id : bad) EXPECT_FALSE(valid_upload_id(id)) << id;
}

}  // namespace
}  // namespace onsen::registry
