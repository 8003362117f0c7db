#include "registry/cache_events.h"

#include <nlohmann/json.hpp>

namespace onsen::registry {

namespace {

constexpr const char* kKinds[] = {"tags", "added", "removed", "stored"};
constexpr int kStored = static_cast<int>(ListingChange::Kind::kStored);

}  // namespace

std::string encode(const ListingChange& change, const std::string& origin) {
  nlohmann::json j = {{"origin", origin}, {"change", kKinds[static_cast<int>(change.kind)]}};
  if (change.kind == ListingChange::Kind::kStored) {
    j["key"] = change.key;
  } else {
    j["repository"] = change.repository;
  }
  return j.dump();
}

std::optional<ReceivedChange> decode(const std::string& message) {
  auto j = nlohmann::json::parse(message, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto origin = j.find("origin"), kind = j.find("change");
  if (origin == j.end() || !origin->is_string() || kind == j.end() || !kind->is_string()) {
    return std::nullopt;
  }
  for (int i = 0; i < 4; ++i) {
    if (*kind != kKinds[i]) continue;
    // The repository of a listing change, the storage key of a stored one.
    auto operand = j.find(i == kStored ? "key" : "repository");
    if (operand == j.end() || !operand->is_string()) return std::nullopt;
    ReceivedChange received{{static_cast<ListingChange::Kind>(i), ""}, origin->get<std::string>()};
    (i == kStored ? received.change.key : received.change.repository) = operand->get<std::string>();
    return received;
  }
  return std::nullopt;
}

}  // namespace onsen::registry
