// htpasswd parsing and bcrypt verification.
#include <crypt.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "auth/htpasswd.h"

namespace onsen::auth {
namespace {

// As `htpasswd -Bbn testuser testpassword` printed it (apache2-utils, cost 5).
constexpr const char* kApacheLine =
    "testuser:$2y$05$QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi.";
constexpr const char* kApacheHash = "$2y$05$QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi.";

// A fresh bcrypt hash of `password` (crypt_gensalt_rn + crypt_rn; cost 5 keeps tests fast).
std::string hash_password(const std::string& password, const char* prefix = "$2b$", int cost = 5) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, cost, nullptr, 0, salt, sizeof salt), nullptr);
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), salt, data.get(), sizeof(crypt_data));
  EXPECT_NE(out, nullptr);
  return out;
}

bool any_warning_contains(const HtpasswdFile& file, const std::string& text) {
  for (const auto& w : file.warnings()) {
    if (w.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(Htpasswd, ApacheBcryptLineVerifies) {
  auto file = HtpasswdFile::parse(std::string(kApacheLine) + "\n");
  ASSERT_EQ(file.size(), 1u);
  EXPECT_TRUE(file.warnings().empty());
  const auto* entry = file.find("testuser");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->hash, kApacheHash);
  EXPECT_EQ(entry->line, 1u);
  EXPECT_TRUE(verify_bcrypt("testpassword", entry->hash));
  EXPECT_FALSE(verify_bcrypt("testpassword2", entry->hash));
  EXPECT_FALSE(verify_bcrypt("Testpassword", entry->hash));
  EXPECT_FALSE(verify_bcrypt("", entry->hash));
  EXPECT_EQ(file.find("TestUser"), nullptr);  // user names are case-sensitive
  EXPECT_EQ(file.find("nobody"), nullptr);
}

TEST(Htpasswd, AcceptsAllThreeBcryptPrefixes) {
  std::string b = hash_password("pw-b", "$2b$");
  std::string y = hash_password("pw-y", "$2y$");
  std::string a = hash_password("pw-a", "$2a$");
  ASSERT_TRUE(b.starts_with("$2b$05$"));
  ASSERT_TRUE(y.starts_with("$2y$05$"));
  ASSERT_TRUE(a.starts_with("$2a$05$"));
  auto file = HtpasswdFile::parse("b:" + b + "\ny:" + y + "\na:" + a + "\n");
  ASSERT_EQ(file.size(), 3u);
  EXPECT_TRUE(verify_bcrypt("pw-b", file.find("b")->hash));
  EXPECT_TRUE(verify_bcrypt("pw-y", file.find("y")->hash));
  EXPECT_TRUE(verify_bcrypt("pw-a", file.find("a")->hash));
  EXPECT_FALSE(verify_bcrypt("pw-a", file.find("b")->hash));
}

TEST(Htpasswd, SkipsCommentsAndBlankLinesAndTrims) {
  std::string h = hash_password("secret");
  std::string text = "# a comment\n\n   \n\t# indented comment\r\n  alice:" + h +
                     "  \r\n\n\tbob:" + h + "\t\n#carol:" + h + "\n";
  auto file = HtpasswdFile::parse(text);
  EXPECT_TRUE(file.warnings().empty());
  ASSERT_EQ(file.size(), 2u);
  ASSERT_NE(file.find("alice"), nullptr);
  ASSERT_NE(file.find("bob"), nullptr);
  EXPECT_EQ(file.find("carol"), nullptr);
  EXPECT_EQ(file.find("#carol"), nullptr);
  EXPECT_EQ(file.find("alice")->hash, h);  // trailing whitespace and CR gone
  EXPECT_EQ(file.find("alice")->line, 5u);
  EXPECT_EQ(file.find("bob")->line, 7u);
}

TEST(Htpasswd, NoTrailingNewlineAndBomAndEmptyFile) {
  std::string h = hash_password("x");
  auto file = HtpasswdFile::parse(
      "\xEF\xBB\xBF"
      "u:" +
      h);
  ASSERT_NE(file.find("u"), nullptr);
  EXPECT_EQ(HtpasswdFile::parse("").size(), 0u);
  EXPECT_TRUE(HtpasswdFile::parse("").warnings().empty());
  EXPECT_EQ(HtpasswdFile::parse("\n\n# only comments\n").size(), 0u);
}

TEST(Htpasswd, RefusesEveryNonBcryptFormatWithLineAndUserButNoHash) {
  std::string good = hash_password("ok");
  const std::string lines[] = {
      "md5user:$apr1$9Cv/OMGj$ZomWQzuQbL.3TRCS81A1g/",  // line 1: htpasswd -m
      "shauser:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=",      // line 2: htpasswd -s
      "cryptuser:rqXexS6ZhobKA",                        // line 3: htpasswd -d
      "plainuser:plaintextpassword",                    // line 4: htpasswd -p
      "sha512user:$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq."
      "qc.eoxqOmSuNp2xS0ktL3nh/",                                               // line 5
      "x2user:$2x$05$QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi.",    // line 6
      "shortuser:$2y$05$QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi",  // line 7
      "costuser:$2y$03$QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi.",  // line 8
      "charuser:$2y$05$QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi!",  // line 9
      "emptyhash:",                                                             // line 10
      "no-colon-line-with-secret",                                              // line 11
      ":" + good,                                                               // line 12
      "gooduser:" + good,                                                       // line 13
  };
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  auto file = HtpasswdFile::parse(text);
  EXPECT_EQ(file.size(), 1u);
  EXPECT_NE(file.find("gooduser"), nullptr);
  ASSERT_EQ(file.warnings().size(), 12u);

  const char* users[] = {"md5user", "shauser",   "cryptuser", "plainuser", "sha512user",
                         "x2user",  "shortuser", "costuser",  "charuser",  "emptyhash"};
  for (std::size_t i = 0; i < std::size(users); ++i) {
    const std::string& w = file.warnings()[i];
    SCOPED_TRACE(w);
    EXPECT_TRUE(w.starts_with("line " + std::to_string(i + 1) + ":"));
    EXPECT_NE(w.find(std::string("'") + users[i] + "'"), std::string::npos);
    EXPECT_EQ(file.find(users[i]), nullptr);
  }
  EXPECT_TRUE(any_warning_contains(file, "MD5 $apr1$"));
  EXPECT_TRUE(any_warning_contains(file, "SHA-1 {SHA}"));
  EXPECT_TRUE(file.warnings()[10].starts_with("line 11:"));
  EXPECT_TRUE(file.warnings()[11].starts_with("line 12:"));
  // No warning quotes any hash or secret.
  for (const auto& w : file.warnings()) {
    SCOPED_TRACE(w);
    for (const char* secret : {"9Cv/OMGj", "qUqP5cyxm6", "rqXexS6Zho", "plaintextpassword",
                               "saltsalt", "QxKRf7", "with-secret", good.c_str() + 7}) {
      EXPECT_EQ(w.find(secret), std::string::npos) << secret;
    }
  }
}

TEST(Htpasswd, DuplicateUserFirstWins) {
  std::string first = hash_password("first");
  std::string second = hash_password("second");
  auto file = HtpasswdFile::parse("dup:" + first + "\nother:" + first + "\ndup:" + second + "\n");
  ASSERT_EQ(file.size(), 2u);
  EXPECT_EQ(file.find("dup")->hash, first);
  EXPECT_EQ(file.find("dup")->line, 1u);
  ASSERT_EQ(file.warnings().size(), 1u);
  EXPECT_TRUE(file.warnings()[0].starts_with("line 3: user 'dup'"));
  EXPECT_NE(file.warnings()[0].find("line 1"), std::string::npos);
  EXPECT_EQ(file.warnings()[0].find(second.substr(7)), std::string::npos);
}

TEST(Htpasswd, UserNamesInWarningsAreEscaped) {
  auto file = HtpasswdFile::parse("evil\x1b[31m'user:plain\n");
  ASSERT_EQ(file.warnings().size(), 1u);
  EXPECT_EQ(file.warnings()[0].find('\x1b'), std::string::npos);
  EXPECT_NE(file.warnings()[0].find("evil\\x1b[31m\\x27user"), std::string::npos);
}

TEST(Htpasswd, UserIsEverythingBeforeTheFirstColon) {
  std::string h = hash_password("pw");
  auto file = HtpasswdFile::parse("user name:" + h + "\n");
  EXPECT_NE(file.find("user name"), nullptr);
}

TEST(Htpasswd, TypicalCostIsTheMostCommon) {
  EXPECT_EQ(HtpasswdFile::parse("").typical_cost(), 5);
  std::string c4 = hash_password("a", "$2b$", 4);
  std::string c6 = hash_password("a", "$2b$", 6);
  auto file = HtpasswdFile::parse("a:" + c6 + "\nb:" + c4 + "\nc:" + c6 + "\n");
  EXPECT_EQ(file.typical_cost(), 6);
}

TEST(Bcrypt, HashShape) {
  EXPECT_TRUE(is_bcrypt_hash(kApacheHash));
  EXPECT_EQ(bcrypt_cost(kApacheHash), 5);
  EXPECT_EQ(bcrypt_cost("$2b$31$QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi."), 31);
  EXPECT_FALSE(is_bcrypt_hash("$2b$32$QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi."));
  EXPECT_FALSE(is_bcrypt_hash("$2b$5$QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi.."));
  EXPECT_FALSE(is_bcrypt_hash("$2b$05QxKRf7.0yHsCUAuJrstB2ekS.dc4aoPWpROMEZ5rnIj1gZd22Dwi.."));
  EXPECT_FALSE(is_bcrypt_hash(""));
  EXPECT_EQ(bcrypt_cost("nope"), 0);
}

TEST(Bcrypt, VerifyRefusesOddInputs) {
  std::string h = hash_password("pass");
  EXPECT_TRUE(verify_bcrypt("pass", h));
  EXPECT_FALSE(verify_bcrypt(std::string("pass\0extra", 10), h));  // NUL would cut the password
  EXPECT_FALSE(verify_bcrypt("pass", ""));
  EXPECT_FALSE(verify_bcrypt("pass", "garbage"));
  EXPECT_FALSE(verify_bcrypt("pass", h.substr(0, 59)));
  EXPECT_FALSE(verify_bcrypt(std::string(100000, 'x'), h));
  // A bare setting costs a bcrypt and never verifies: the dummy used for unknown users.
  std::string setting = bcrypt_setting(4);
  EXPECT_TRUE(setting.starts_with("$2b$04$"));
  EXPECT_EQ(setting.size(), 29u);
  EXPECT_NE(setting, bcrypt_setting(4));  // random salt
  EXPECT_FALSE(verify_bcrypt("pass", setting));
  EXPECT_FALSE(verify_bcrypt("", setting));
}

TEST(Bcrypt, HashWritesWhatHtpasswdWrites) {
  std::string h = bcrypt_hash("pass word", 4);
  EXPECT_TRUE(h.starts_with("$2y$04$")) << h;  // `htpasswd -B` writes $2y$
  EXPECT_TRUE(is_bcrypt_hash(h));
  EXPECT_TRUE(verify_bcrypt("pass word", h));
  EXPECT_FALSE(verify_bcrypt("pass Word", h));
  EXPECT_NE(h, bcrypt_hash("pass word", 4));  // random salt
  EXPECT_EQ(bcrypt_cost(bcrypt_hash("x", 6)), 6);
  auto file = HtpasswdFile::parse("u:" + h + "\n");
  ASSERT_NE(file.find("u"), nullptr);
  EXPECT_TRUE(verify_bcrypt("pass word", file.find("u")->hash));

  std::string longest(kBcryptMaxPassword, 'p');
  EXPECT_TRUE(verify_bcrypt(longest, bcrypt_hash(longest, 4)));
  EXPECT_THROW(bcrypt_hash(longest + "p", 4), std::invalid_argument);  // bcrypt would drop it
  EXPECT_THROW(bcrypt_hash(std::string("a\0b", 3), 4), std::invalid_argument);
  EXPECT_THROW(bcrypt_hash("x", 3), std::invalid_argument);
  EXPECT_THROW(bcrypt_hash("x", 32), std::invalid_argument);
}

}  // namespace
}  // namespace onsen::auth
