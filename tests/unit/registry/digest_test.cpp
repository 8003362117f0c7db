#include "registry/digest.h"

#include "registry/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <compare>
#include <string>
#include <utility>

namespace onsen::registry {
namespace {

const std::string kEmpty256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbc256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kEmpty512 =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
const std::string kAbc512 =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

TEST(DigestParse, AcceptsSha256) {
  auto d = Digest::parse("sha256:" + kEmpty256);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->algorithm(), "sha256");
  EXPECT_EQ(d->hex(), kEmpty256);
  EXPECT_EQ(d->str(), "sha256:" + kEmpty256);
}

TEST(DigestParse, AcceptsSha512) {
  auto d = Digest::parse("sha512:" + kEmpty512);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->algorithm(), "sha512");
  EXPECT_EQ(d->hex(), kEmpty512);
}

TEST(DigestParse, RejectsMalformed) {
  const std::string upper =
      "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
  const std::string bad[] = {
      "",
      ":",
      "sha256",
      kEmpty256,                               // missing algorithm and colon
      "sha256:",                               // empty encoded
      ":" + kEmpty256,                         // empty algorithm
      upper,                                   // uppercase hex
      "sha256:" + kEmpty256.substr(0, 63),     // too short
      "sha256:" + kEmpty256 + "0",             // too long
      "sha256:" + kEmpty512,                   // sha512 length under sha256
      "sha512:" + kEmpty256,                   // sha256 length under sha512
      "md5:d41d8cd98f00b204e9800998ecf8427e",  // unknown algorithm
      "sha256:totallywrong",
      "SHA256:" + kEmpty256,  // algorithm must be lowercase
      "sha256:" + kEmpty256.substr(0, 63) + "g",
      "sha256::" + kEmpty256.substr(1),
      " sha256:" + kEmpty256,
      "sha256:" + kEmpty256 + " ",
      "sha256:" + kEmpty256 + "\n",
      "sha256+:" + kEmpty256,  // dangling separator in algorithm
      "sha256:" + kEmpty256.substr(0, 32) + std::string(1, '\0') + kEmpty256.substr(33),
  };
  for (const auto& text : bad) {
    EXPECT_FALSE(Digest::parse(text).has_value()) << "accepted: " << text;
  }
}

TEST(DigestParse, GrammarValidButUnsupportedAlgorithms) {
  // Well-formed per the OCI grammar, but only sha256/sha512 are supported.
  EXPECT_FALSE(Digest::parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"));
  EXPECT_FALSE(Digest::parse("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"));
  EXPECT_FALSE(Digest::parse("blake3:" + kEmpty256));
}

TEST(DigestParse, ParseOrThrow) {
  EXPECT_EQ(Digest::parse_or_throw("sha256:" + kAbc256).hex(), kAbc256);
  try {
    Digest::parse_or_throw("sha256:totallywrong");
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDigestInvalid);
    EXPECT_NE(std::string(e.what()).find("invalid digest"), std::string::npos);
  }
}

TEST(DigestParse, ParseOrThrowDoesNotEchoLongInput) {
  std::string huge = "sha256:" + std::string(100000, 'x');
  try {
    Digest::parse_or_throw(huge);
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDigestInvalid);
    EXPECT_LT(std::string(e.what()).size(), 120u);
  }
  try {
    Digest::parse_or_throw(std::string("sha256:\x01\xff\"\n", 11));
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    for (char c : std::string(e.what())) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "unprintable byte in message";
    }
  }
}

TEST(DigestParse, Comparison) {
  auto a = Digest::parse_or_throw("sha256:" + kAbc256);
  auto b = Digest::parse_or_throw("sha256:" + kAbc256);
  auto c = Digest::parse_or_throw("sha256:" + kEmpty256);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_TRUE(a < c);  // by algorithm, then hex: "ba..." < "e3..."
  EXPECT_EQ((a <=> b), std::strong_ordering::equal);
}

TEST(Hasher, KnownVectors) {
  EXPECT_EQ(digest_of("").str(), "sha256:" + kEmpty256);
  EXPECT_EQ(digest_of("abc").str(), "sha256:" + kAbc256);
  EXPECT_EQ(digest_of("", "sha512").str(), "sha512:" + kEmpty512);
  EXPECT_EQ(digest_of("abc", "sha512").str(), "sha512:" + kAbc512);
  Hasher h;
  EXPECT_EQ(h.algorithm(), "sha256");
  EXPECT_EQ(h.digest().hex(), kEmpty256);
}

TEST(Hasher, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>(i * 131 + 7);
  for (const char* alg : {"sha256", "sha512"}) {
    Hasher h(alg);
    size_t pos = 0, step = 1;
    while (pos < data.size()) {
      size_t n = std::min(step, data.size() - pos);
      h.update(data.data() + pos, n);
      pos += n;
      step = step * 3 + 1;
    }
    h.update(nullptr, 0);
    EXPECT_EQ(h.digest(), digest_of(data, alg)) << alg;
  }
}

TEST(Hasher, DigestDoesNotFinalize) {
  Hasher h;
  h.update("a");
  auto first = h.digest();
  EXPECT_EQ(first, h.digest());  // repeatable
  h.update("bc");
  EXPECT_EQ(h.digest().hex(), kAbc256);
  EXPECT_EQ(first, digest_of("a"));
}

TEST(Hasher, CopyIsIndependent) {
  Hasher h;
  h.update("ab");
  Hasher checkpoint(h);
  h.update("c");
  EXPECT_EQ(h.digest().hex(), kAbc256);
  EXPECT_EQ(checkpoint.digest(), digest_of("ab"));
  checkpoint.update("c");
  EXPECT_EQ(checkpoint.digest().hex(), kAbc256);

  Hasher other("sha512");
  other.update("zzz");
  other = h;  // copy-assign replaces algorithm and state
  EXPECT_EQ(other.algorithm(), "sha256");
  EXPECT_EQ(other.digest().hex(), kAbc256);
  other.update("d");
  EXPECT_EQ(h.digest().hex(), kAbc256);
  EXPECT_EQ(other.digest(), digest_of("abcd"));

  Hasher& self = other;
  other = self;  // self-assignment is harmless
  EXPECT_EQ(other.digest(), digest_of("abcd"));
}

TEST(Hasher, Move) {
  Hasher h;
  h.update("abc");
  Hasher moved(std::move(h));
  EXPECT_EQ(moved.digest().hex(), kAbc256);
  Hasher target("sha512");
  target = std::move(moved);
  EXPECT_EQ(target.algorithm(), "sha256");
  EXPECT_EQ(target.digest().hex(), kAbc256);
  h = target;  // a moved-from hasher can be assigned again
  h.update("d");
  EXPECT_EQ(h.digest(), digest_of("abcd"));
}

TEST(Hasher, RejectsUnknownAlgorithm) {
  for (const char* alg : {"md5", "sha1", "SHA256", "", "sha384"}) {
    try {
      Hasher h(alg);
      FAIL() << "accepted " << alg;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDigestInvalid);
    }
  }
  EXPECT_THROW(digest_of("x", "md5"), Error);
}

}  // namespace
}  // namespace onsen::registry
