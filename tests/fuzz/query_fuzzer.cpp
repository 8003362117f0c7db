// Query strings (Boost.URL's decoding): any raw query decodes without crashing, and the parameters
// the handlers read come back as strings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/query.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const onsen::api::Query query(raw);
  for (const char* key : {"n", "last", "digest", "mount", "from", "artifactType", ""}) {
    if (auto value = query.get(key)) {
      // A decoded value is never longer than its encoded form.
      FUZZ_CHECK(value->size() <= size);
    }
  }
  return 0;
}
