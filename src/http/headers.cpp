// Headers: the case-insensitive header list of message.h.
#include <algorithm>

#include "http/message.h"
#include "http/wire.h"

namespace onsen::http {

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (detail::iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

void Headers::set(std::string name, std::string value) {
  std::erase_if(fields_, [&](const auto& f) { return detail::iequals(f.first, name); });
  fields_.emplace_back(std::move(name), std::move(value));
}

}  // namespace onsen::http
