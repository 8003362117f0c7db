// The two range headers: a blob GET's `Range` (against an object size the fuzzer picks) and an
// upload chunk's `Content-Range`. A partial answer always lies inside the object.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "api/byte_range.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  // Small sizes matter most (0, 1, around the numbers in the header); large ones test clamping.
  const uint64_t object_size = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint64_t>(0, 4096)
                                                : in.ConsumeIntegral<uint64_t>();
  const std::string header = in.ConsumeRemainingBytesAsString();
  using namespace onsen::api;

  ByteRange range{};
  switch (parse_range(header, object_size, &range)) {
    case RangeResult::kPartial:
      FUZZ_CHECK(object_size > 0);
      FUZZ_CHECK(range.first <= range.last);
      FUZZ_CHECK(range.last < object_size);
      FUZZ_CHECK(range.length() >= 1 && range.length() <= object_size);
      break;
    case RangeResult::kUnsatisfiable:
    case RangeResult::kWhole:
      break;
  }

  if (auto chunk = parse_content_range(header)) {
    FUZZ_CHECK(chunk->first <= chunk->last);
  }
  return 0;
}
