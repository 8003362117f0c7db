// ResumableSha256: its state in Go's crypto/sha256 MarshalBinary format, saved and restored at
// offsets that cut a 64-byte block, and refused when it is not such a state.
#include "registry/resumable_sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace onsen::registry {
namespace {

// 100 bytes (one full block and 36 pending), the pattern golden_state() was computed over.
std::string pattern(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>((i * 7 + 3) & 0xff);
  return s;
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

// Go's state after pattern(100), built from a plain SHA-256 written in Python from FIPS 180-4
// (its digest of the same bytes equals hashlib's): "sha\x03", h after the first block, the 36
// pending bytes zero-padded to 64, the length 100.
const std::string kGolden100 = from_hex(
    "73686103"
    "efd29b436f63eaf244f598951fbb7c8f2a517b27d2015d2951958d1b5d12bf47"
    "c3cad1d8dfe6edf4fb020910171e252c333a41484f565d646b727980878e959ca3aab1b8"
    "00000000000000000000000000000000000000000000000000000000"
    "0000000000000064");

TEST(ResumableSha256, DigestsLikeEveryOtherSha256) {
  for (size_t n : {0, 3, 64, 100, 1000}) {
    ResumableSha256 h;
    h.update(pattern(n));
    EXPECT_EQ(h.digest(), digest_of(pattern(n))) << n;
    EXPECT_EQ(h.length(), n);
  }
}

TEST(ResumableSha256, StateIsGosFormat) {
  ResumableSha256 h;
  h.update(pattern(100));
  EXPECT_EQ(h.marshal(), kGolden100);
  // Before any full block: the initial words, the pending bytes, the length.
  ResumableSha256 abc;
  abc.update("abc");
  EXPECT_EQ(abc.marshal(),
            from_hex("73686103"
                     "6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19"
                     "616263" +
                     std::string(122, '0') + "0000000000000003"));
}

TEST(ResumableSha256, RestoredStateContinuesAsTheHashItWasSavedFrom) {
  const std::string all = pattern(300000);
  for (size_t cut : {0, 1, 3, 63, 64, 65, 100, 127, 128, 1000, 65537, 299999, 300000}) {
    ResumableSha256 before;
    before.update(all.data(), cut);
    const std::string state = before.marshal();
    ASSERT_EQ(state.size(), ResumableSha256::kStateSize);
    auto after = ResumableSha256::unmarshal(state);
    ASSERT_TRUE(after) << cut;
    EXPECT_EQ(after->length(), cut);
    EXPECT_EQ(after->digest(), digest_of(all.substr(0, cut))) << cut;
    EXPECT_EQ(after->marshal(), state) << cut;
    after->update(all.data() + cut, all.size() - cut);
    EXPECT_EQ(after->digest(), digest_of(all)) << cut;
  }
  // Go's own state (the golden one) resumes too.
  auto golden = ResumableSha256::unmarshal(kGolden100);
  ASSERT_TRUE(golden);
  golden->update(all.data() + 100, 1000);
  EXPECT_EQ(golden->digest(), digest_of(all.substr(0, 1100)));
}

TEST(ResumableSha256, CopiesAreIndependent) {
  ResumableSha256 a;
  a.update("hel");
  ResumableSha256 b = a;
  a.update("lo");
  b.update("p");
  EXPECT_EQ(a.digest(), digest_of("hello"));
  EXPECT_EQ(b.digest(), digest_of("help"));
}

TEST(ResumableSha256, RefusesWhatIsNotAState) {
  std::string wrong_magic = kGolden100;
  wrong_magic[3] = '\x02';  // sha224's
  std::string padding = kGolden100;
  padding[4 + 32 + 50] = 1;  // after the 36 pending bytes
  std::string huge = kGolden100;
  huge[100] = '\x20';  // a length of 2^61 bytes and more: more bits than SHA-256 counts
  for (const std::string& bad : {std::string(), kGolden100.substr(0, 107), kGolden100 + '\0',
                                 wrong_magic, padding, huge, std::string(108, '\0')}) {
    EXPECT_FALSE(ResumableSha256::unmarshal(bad)) << bad.size();
  }
}

}  // namespace
}  // namespace onsen::registry
