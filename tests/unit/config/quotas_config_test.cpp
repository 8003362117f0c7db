// quotas: and usage: (Onsen's own top-level sections): sizes with units, the checks of each
// quota entry, and REGISTRY_QUOTAS / REGISTRY_USAGE_REFRESH.
#include <gtest/gtest.h>

#include "config/byte_size.h"
#include "config/config.h"
#include "load_yaml.h"

namespace onsen::config {
namespace {

using namespace std::chrono_literals;

constexpr const char* kBase = "version: 0.1\nstorage: inmemory\n";

// The storage section every file needs, then `yaml`.
std::string with_storage(const std::string& yaml) {
  return std::string(kBase) + yaml;
}

TEST(ByteSize, UnitsDecimalAndBinaryInAnyCase) {
  EXPECT_EQ(parse_byte_size("4096"), 4096u);
  EXPECT_EQ(parse_byte_size("12B"), 12u);
  EXPECT_EQ(parse_byte_size("10GiB"), 10ull << 30);
  EXPECT_EQ(parse_byte_size("10gib"), 10ull << 30);
  EXPECT_EQ(parse_byte_size("500MB"), 500'000'000u);
  EXPECT_EQ(parse_byte_size("500 MB"), 500'000'000u);
  EXPECT_EQ(parse_byte_size("1.5KiB"), 1536u);
  EXPECT_EQ(parse_byte_size("2T"), 2'000'000'000'000u);
  EXPECT_EQ(parse_byte_size("18446744073PB"), std::nullopt);  // beyond 64 bits
  for (const char* bad : {"", "GiB", "10 GiBs", "1.2.3MB", "-5", "10XB", "1e9", "5  MB"}) {
    EXPECT_EQ(parse_byte_size(bad), std::nullopt) << bad;
  }
}

TEST(QuotasConfig, EntriesInOrderWithOptionalLimits) {
  std::vector<std::string> warnings;
  Config c = load_yaml(with_storage("quotas:\n"
                                    "  - {repository: \"team-a/*\", bytes: 10GiB, tags: 100}\n"
                                    "  - {repository: \"*\", bytes: 1TB}\n"
                                    "  - {repository: \"ci/*\", tags: 5}\n"
                                    "usage: {refresh: 2m}\n"),
                       {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(c.quotas.size(), 3u);
  EXPECT_EQ(c.quotas[0].repository, "team-a/*");
  EXPECT_EQ(c.quotas[0].bytes, 10ull << 30);
  EXPECT_EQ(c.quotas[0].tags, 100u);
  EXPECT_EQ(c.quotas[1].bytes, 1'000'000'000'000u);
  EXPECT_EQ(c.quotas[1].tags, std::nullopt);
  EXPECT_EQ(c.quotas[2].bytes, std::nullopt);
  EXPECT_EQ(c.usage.refresh, 120s);
  // None by default; the usage index walks every 10 minutes.
  c = load_yaml(with_storage(""));
  EXPECT_TRUE(c.quotas.empty());
  EXPECT_EQ(c.usage.refresh, 600s);
}

TEST(QuotasConfig, ErrorsNameTheEntryAndTheKey) {
  EXPECT_EQ(error_of(with_storage("quotas: {repository: x, bytes: 1}\n")),
            "quotas: expected a list of {repository, bytes, tags} maps, got a map");
  EXPECT_EQ(error_of(with_storage("quotas:\n  - {bytes: 1GiB}\n")),
            "quotas.0.repository: required (a repository glob)");
  EXPECT_EQ(error_of(with_storage("quotas:\n  - {repository: a}\n  - {repository: b}\n")),
            "quotas.0: needs a limit: bytes, tags or both");
  EXPECT_EQ(error_of(with_storage("quotas:\n  - {repository: a, bytes: 10 gigs}\n")),
            "quotas.0.bytes: expected a size such as \"10GiB\", \"500MB\" or \"1048576\", got "
            "\"10 gigs\"");
  EXPECT_EQ(error_of(with_storage("quotas:\n  - {repository: a, tags: -1}\n")),
            "quotas.0.tags: expected a non-negative integer, got \"-1\"");
  EXPECT_EQ(error_of(with_storage("usage: {refresh: 0s}\n")),
            "usage.refresh: expected a duration of at least 1s, got \"0s\"");
  std::vector<std::string> warnings;
  load_yaml(with_storage("quotas:\n  - {repository: a, bytes: 1, limit: 2}\n"), {}, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "unknown configuration key: quotas.0.limit");
}

TEST(QuotasConfig, FromTheEnvironment) {
  Config c = load_yaml(with_storage(""),
                       {"REGISTRY_QUOTAS=[{repository: \"q/*\", bytes: 100000, tags: 2}]",
                        "REGISTRY_USAGE_REFRESH=1h"});
  ASSERT_EQ(c.quotas.size(), 1u);
  EXPECT_EQ(c.quotas[0].repository, "q/*");
  EXPECT_EQ(c.quotas[0].bytes, 100000u);
  EXPECT_EQ(c.usage.refresh, 3600s);
  EXPECT_EQ(error_of(with_storage(""), {"REGISTRY_QUOTAS=[{repository: a}]"}),
            "REGISTRY_QUOTAS: quotas.0: needs a limit: bytes, tags or both");
}

}  // namespace
}  // namespace onsen::config
