// Key names shared by the override and conversion steps.
#pragma once

#include <string_view>

namespace onsen::config {

// Top-level sections that are accepted and ignored.
inline bool is_ignored_section(std::string_view key) {
  return key == "validation" || key == "proxy" || key == "reporting" || key == "middleware" ||
         key == "compatibility";
}

// Top-level sections of Onsen's own (registry:2 ignores unknown top-level keys).
inline bool is_onsen_section(std::string_view key) {
  return key == "quotas" || key == "usage";
}

// Every top-level key of Distribution's format (version 0.1), and Onsen's own.
inline bool is_top_level_key(std::string_view key) {
  return key == "version" || key == "loglevel" || key == "log" || key == "storage" ||
         key == "http" || key == "auth" || key == "redis" || key == "health" ||
         key == "notifications" || is_onsen_section(key) || is_ignored_section(key);
}

// The keys of the storage block that are options rather than a driver name.
inline bool is_storage_option(std::string_view key) {
  return key == "delete" || key == "maintenance" || key == "cache" || key == "redirect" ||
         key == "tag" || key == "retention" || key == "gc";
}

}  // namespace onsen::config
