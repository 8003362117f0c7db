// Go duration syntax (every duration of the configuration: uploadpurging age and interval,
// draintimeout). Any text parses or is refused; a result has the sign that was written, and "-x"
// is exactly the negation of "x".
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/duration.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using onsen::base::parse_go_duration;
  const auto d = parse_go_duration(text);
  if (!d) return 0;

  FUZZ_CHECK(!text.empty());
  const bool signed_text = text.front() == '-' || text.front() == '+';
  if (text.front() == '-') {
    FUZZ_CHECK(d->count() <= 0);
  } else {
    FUZZ_CHECK(d->count() >= 0);
  }
  if (!signed_text) {
    const auto negated = parse_go_duration("-" + std::string(text));
    FUZZ_CHECK(negated.has_value() && negated->count() == -d->count());
    const auto plus = parse_go_duration("+" + std::string(text));
    FUZZ_CHECK(plus.has_value() && *plus == *d);
  }
  return 0;
}
