#include "registry/name_listing.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace onsen::registry {

NameListing::NameListing(std::vector<std::string> names) : names_(std::move(names)) {
  std::sort(names_.begin(), names_.end());
  names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
  offsets_.reserve(names_.size() + 1);
  for (auto& name : names_) {
    offsets_.push_back(json_.size());
    json_ += nlohmann::json(name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    json_ += ',';
  }
  offsets_.push_back(json_.size());
}

bool NameListing::contains(std::string_view name) const {
  return std::binary_search(names_.begin(), names_.end(), name, std::less<>());
}

size_t NameListing::after(std::string_view last) const {
  return static_cast<size_t>(std::upper_bound(names_.begin(), names_.end(), last, std::less<>()) -
                             names_.begin());
}

void NameListing::append_json(std::string& out, size_t begin, size_t end) const {
  end = std::min(end, names_.size());
  out += '[';
  if (begin < end) {  // without the ',' after the last name
    out.append(json_, offsets_[begin], offsets_[end] - offsets_[begin] - 1);
  }
  out += ']';
}

}  // namespace onsen::registry
