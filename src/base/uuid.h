// Random (version 4) UUIDs, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx": request ids, notification
// event and instance ids (unique, cheap: a per-thread generator), and upload ids (which callers
// draw from a cryptographic source and only format here, since an upload's id is its capability).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace onsen::base {

// Sets `out` to the UUID made of `random` with the version and variant bits set; reuses out's
// storage.
void format_uuid_v4(const std::array<uint8_t, 16>& random, std::string& out);

// A new UUID from this thread's xoshiro256** generator, seeded once from the system's random
// source: unique, not secret; costs next to nothing on the hot path.
void fast_random_uuid(std::string& out);
std::string fast_random_uuid();

}  // namespace onsen::base
