// TicketKeys::parse: raw keys back to back, base64 (wrapped as `openssl rand -base64` writes it, or
// one padded key per line), and the errors; find() renews tickets under any key but the first.
#include "http/ticket_keys.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "support/base64.h"

namespace onsen::http::detail {
namespace {

std::string key_bytes(char fill) {
  std::string k(80, fill);
  k[0] = 'n';  // names differ from the rest
  return k;
}

TEST(TicketKeysTest, ParsesRawKeysInOrder) {
  auto keys = TicketKeys::parse(key_bytes('\x01') + key_bytes('\x02'));
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].name[0], 'n');
  EXPECT_EQ(keys[0].name[1], 1);
  EXPECT_EQ(keys[0].hmac[0], 1);
  EXPECT_EQ(keys[1].aes[31], 2);
}

TEST(TicketKeysTest, ParsesBase64WrappedOrOneKeyPerLine) {
  std::string two = key_bytes('\x01') + key_bytes('\x02');
  std::string wrapped = test::base64(two);
  for (size_t i = 64; i < wrapped.size(); i += 65) wrapped.insert(i, "\n");
  EXPECT_EQ(TicketKeys::parse(wrapped + "\n").size(), 2u);
  auto lines = TicketKeys::parse(test::base64(key_bytes('\x03')) + "\n" +
                                 test::base64(key_bytes('\x04')) + "\r\n");
  ASSERT_EQ(lines.size(), 2u);  // each line padded: decoding goes on after the padding
  EXPECT_EQ(lines[1].aes[31], 4);
}

TEST(TicketKeysTest, RefusesWhatIsNotWholeKeys) {
  for (std::string bad :
       {std::string(), std::string(79, '\x01'), std::string(81, '\x01'),
        test::base64(std::string(40, 'x')), std::string("not a key\n"), std::string("QUJD=QUJD")}) {
    EXPECT_THROW(TicketKeys::parse(bad), std::runtime_error) << bad;
  }
  try {
    TicketKeys::parse(std::string(100, '\x01'));
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "expected one or more 80-byte keys (raw or base64), got 100 bytes");
  }
}

TEST(TicketKeysTest, OnlyTheFirstKeyEncryptsAndOthersAreRenewed) {
  auto rotating = TicketKeys::rotating(std::chrono::hours(12));
  auto current = rotating->current();
  bool renew = true;
  ASSERT_TRUE(rotating->find(current.name.data(), renew));
  EXPECT_FALSE(renew);
  unsigned char unknown[16] = {};
  EXPECT_FALSE(rotating->find(unknown, renew));
}

}  // namespace
}  // namespace onsen::http::detail
