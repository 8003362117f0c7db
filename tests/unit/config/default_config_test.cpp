// The embedded defaults are config/registry-default.yml, byte for byte, and load as the file does.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/config.h"
#include "config/default_config.h"

namespace onsen::config {
namespace {

// As the other tests here find config/dev.yml: relative to this source file.
const std::filesystem::path kFile =
    std::filesystem::path(__FILE__).parent_path() / "../../../config/registry-default.yml";

TEST(DefaultConfig, EmbeddedTextIsTheRepositoryFile) {
  std::ifstream in(kFile, std::ios::binary);
  ASSERT_TRUE(in) << kFile;
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_EQ(default_config_text(), text.str());
  // registry:2's config.yml: filesystem storage under /var/lib/registry, port 5000.
  EXPECT_TRUE(default_config_text().starts_with("version: 0.1\n"));
  EXPECT_NE(default_config_text().find("rootdirectory: /var/lib/registry\n"), std::string::npos);
}

TEST(DefaultConfig, NoFileLoadsLikeTheFile) {
  std::vector<std::string> warnings;
  Config embedded = load("", {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  Config file = load(kFile.string(), {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(embedded.http.addr, file.http.addr);
  EXPECT_EQ(embedded.http.headers, file.http.headers);
  EXPECT_EQ(embedded.storage.parameters, file.storage.parameters);
  EXPECT_EQ(embedded.log.fields, file.log.fields);
  EXPECT_EQ(embedded.log.level, "info");  // Distribution's default when log.level is absent
}

}  // namespace
}  // namespace onsen::config
