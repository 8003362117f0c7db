// htpasswd files (re-read whenever they change, so an operator's typo or a half-written file is
// what this parser sees): any text parses without crashing, and every accepted entry is a
// well-formed bcrypt hash that can be found under its user name.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/htpasswd.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using onsen::auth::HtpasswdFile;
  const HtpasswdFile file = HtpasswdFile::parse(text);

  const int cost = file.typical_cost();
  FUZZ_CHECK(cost >= 4 && cost <= 31);

  // Walk the lines: every "user:hash" whose user was accepted maps to a bcrypt hash from one of
  // the file's lines.
  size_t line_number = 0;
  size_t last_entry_line = 0;
  for (std::string_view rest = text; !rest.empty();) {
    ++line_number;
    const size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (const HtpasswdFile::Entry* entry = file.find(line.substr(0, colon))) {
      FUZZ_CHECK(onsen::auth::is_bcrypt_hash(entry->hash));
      FUZZ_CHECK(onsen::auth::bcrypt_cost(entry->hash) >= 4);
      FUZZ_CHECK(entry->line >= 1);
      last_entry_line = std::max(last_entry_line, entry->line);
    }
  }
  FUZZ_CHECK(last_entry_line <= line_number);
  FUZZ_CHECK(file.size() <= line_number);
  // At most one verdict (an entry or a warning) per line.
  FUZZ_CHECK(file.size() + file.warnings().size() <= line_number + 1);
  return 0;
}
