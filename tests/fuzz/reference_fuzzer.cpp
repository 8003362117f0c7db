// Repository names, tags, upload ids and digests: the hand-written matchers of registry/names.cpp
// and registry/digest.cpp agree with the distribution-spec grammars written as regular
// expressions (std::regex is the slow, obviously-right oracle; only short inputs are compared so
// its recursion stays shallow), and a parsed digest prints back to the same text.
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "registry/digest.h"
#include "registry/names.h"

namespace {

constexpr size_t kOracleMaxLength = 300;

bool full_match(const std::regex& re, std::string_view s) {
  return std::regex_match(s.begin(), s.end(), re);
}

const std::regex& name_grammar() {
  static const std::regex re(
      R"([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*)");
  return re;
}
const std::regex& tag_grammar() {
  static const std::regex re(R"([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})");
  return re;
}
const std::regex& upload_id_grammar() {
  static const std::regex re(R"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})");
  return re;
}
const std::regex& digest_grammar() {
  static const std::regex re(R"(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})");
  return re;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace onsen::registry;

  const bool name = valid_repository_name(text);
  const bool tag = valid_tag(text);
  const bool upload_id = valid_upload_id(text);
  const auto digest = Digest::parse(text);

  if (digest) {
    FUZZ_CHECK(digest->str() == text);
    FUZZ_CHECK(digest->algorithm() == "sha256" || digest->algorithm() == "sha512");
  }
  if (size <= kOracleMaxLength) {
    FUZZ_CHECK(name == (size <= 255 && full_match(name_grammar(), text)));
    FUZZ_CHECK(tag == full_match(tag_grammar(), text));
    FUZZ_CHECK(upload_id == full_match(upload_id_grammar(), text));
    FUZZ_CHECK(digest.has_value() == full_match(digest_grammar(), text));
  } else {
    FUZZ_CHECK(!name && !tag && !upload_id && !digest);
  }
  return 0;
}
