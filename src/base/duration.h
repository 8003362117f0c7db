// Go's duration syntax (time.ParseDuration), which Distribution uses for every duration in its
// configuration (and Onsen in its admin endpoints' parameters): "168h", "30m", "1h30m", "1.5s",
// "300ms", "0". Units: ns, us (µs), ms, s, m, h.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace onsen::base {

// The duration, or nullopt when `text` is not a valid Go duration or overflows.
std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

}  // namespace onsen::base
