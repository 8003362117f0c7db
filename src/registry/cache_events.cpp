#include "registry/cache_events.h"

#include <nlohmann/json.hpp>

namespace onsen::registry {

namespace {

constexpr const char* kKinds[] = {"tags", "added", "removed"};

}  // namespace

std::string encode(const ListingChange& change, const std::string& origin) {
  nlohmann::json j = {{"origin", origin},
                      {"change", kKinds[static_cast<int>(change.kind)]},
                      {"repository", change.repository}};
  return j.dump();
}

std::optional<ReceivedChange> decode(const std::string& message) {
  auto j = nlohmann::json::parse(message, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto origin = j.find("origin"), kind = j.find("change"), repository = j.find("repository");
  if (origin == j.end() || !origin->is_string() || kind == j.end() || !kind->is_string() ||
      repository == j.end() || !repository->is_string()) {
    return std::nullopt;
  }
  for (int i = 0; i < 3; ++i) {
    if (*kind == kKinds[i]) {
      return ReceivedChange{{static_cast<ListingChange::Kind>(i), repository->get<std::string>()},
                            origin->get<std::string>()};
    }
  }
  return std::nullopt;
}

}  // namespace onsen::registry
