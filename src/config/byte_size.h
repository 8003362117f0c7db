// Sizes in the configuration written with units, as people write quotas: "10GiB", "500MB",
// "1.5TB", "4096". Decimal units (kB, MB, GB, TB, PB: powers of 1000) and binary ones (KiB, MiB,
// GiB, TiB, PiB: powers of 1024), the unit's letters in any case, an optional space before it;
// a bare number (or "B") is bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace onsen::config {

// The number of bytes (a fraction rounded down), or nullopt when `text` is not such a size or
// does not fit 64 bits.
std::optional<uint64_t> parse_byte_size(std::string_view text);

}  // namespace onsen::config
