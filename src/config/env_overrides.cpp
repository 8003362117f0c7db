#include "config/env_overrides.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>

#include "config/config.h"
#include "config/keys.h"

namespace onsen::config {

namespace {

constexpr std::string_view kPrefix = "REGISTRY_";
constexpr std::string_view kConfigurationPath = "REGISTRY_CONFIGURATION_PATH";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

bool is_index(std::string_view s) {
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    parts.emplace_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

// The entry of `map` for `component`: the key spelled in lowercase if present, else any key
// equal ignoring case, else a new lowercase key (null, marked with `env`).
ConfigNode& map_child(ConfigNode& map, const std::string& component, const std::string& env,
                      std::string* key_out) {
  std::string key = lower(component);
  if (ConfigNode* exact = map.find(key)) {
    *key_out = key;
    return *exact;
  }
  for (auto& [k, v] : map.entries) {
    if (iequals(k, component)) {
      *key_out = k;
      return v;
    }
  }
  ConfigNode created;
  created.env = env;
  map.entries.emplace_back(key, std::move(created));
  *key_out = key;
  return map.entries.back().second;
}

// REGISTRY_STORAGE=<driver> / REGISTRY_AUTH=<provider>: select by name, keeping what applies.
void select_by_name(ConfigNode& block, const std::string& name, bool keep_storage_options,
                    const std::string& env) {
  if (!block.is_map()) {
    block = ConfigNode::make_map();
    block.env = env;
  }
  std::erase_if(block.entries, [&](const auto& e) {
    return e.first != name && !(keep_storage_options && is_storage_option(e.first));
  });
  if (!block.find(name)) {
    ConfigNode selected;
    selected.env = env;
    block.entries.emplace_back(name, std::move(selected));
  }
}

void apply_one(ConfigNode& root, const std::string& name, const std::string& value,
               std::vector<std::string>& warnings) {
  std::vector<std::string> path = split(std::string_view(name).substr(kPrefix.size()), '_');
  if (std::any_of(path.begin(), path.end(), [](const auto& c) { return c.empty(); })) {
    warnings.push_back("ignoring environment variable " + name + ": empty path component");
    return;
  }

  // Like Distribution, a variable naming no top-level key is not an override: Kubernetes, for
  // one, injects REGISTRY_PORT, REGISTRY_SERVICE_HOST... for a Service named "registry".
  if (!is_top_level_key(lower(path.front()))) {
    warnings.push_back("ignoring unrecognized environment variable " + name);
    return;
  }

  ConfigNode parsed;
  try {
    parsed = parse_yaml(value);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name +
                      ": invalid value (parsed as YAML; quote it if it is a string): " + e.msg);
  }
  parsed.mark_env(name);

  ConfigNode* cur = &root;
  std::string where;  // dotted path walked so far
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& component = path[i];
    if (is_index(component) && (cur->is_sequence() || cur->is_null())) {
      if (cur->is_null()) cur->kind = ConfigNode::Kind::Sequence;
      size_t index = std::stoul(component);
      if (index > cur->items.size()) {
        throw ConfigError(name + ": undefined index " + component + " (" +
                          (where.empty() ? std::string("the list") : where) + " has " +
                          std::to_string(cur->items.size()) + " items)");
      }
      if (index == cur->items.size()) {
        cur->items.emplace_back();
        cur->items.back().env = name;
      }
      cur = &cur->items[index];
      where += (where.empty() ? "" : ".") + component;
      continue;
    }
    if (cur->is_sequence()) {
      throw ConfigError(name + ": " + where + " is a list; expected a numeric index, got " +
                        component);
    }
    if (cur->is_scalar()) {
      warnings.push_back("ignoring environment variable " + name + ": " + where +
                         " is a value, not a section");
      return;
    }
    if (cur->is_null()) {
      std::string env = std::move(cur->env);
      *cur = ConfigNode::make_map();
      cur->env = std::move(env);
    }
    std::string key;
    cur = &map_child(*cur, component, name, &key);
    where += (where.empty() ? "" : ".") + key;
  }

  if (path.size() == 1 && parsed.is_scalar() &&
      (iequals(where, "storage") || iequals(where, "auth"))) {
    select_by_name(*cur, parsed.scalar, iequals(where, "storage"), name);
    return;
  }
  *cur = std::move(parsed);
}

}  // namespace

void apply_env_overrides(ConfigNode& root, const std::vector<std::string>& environ_entries,
                         std::vector<std::string>& warnings) {
  std::vector<std::pair<std::string, std::string>> overrides;
  for (const auto& entry : environ_entries) {
    size_t eq = entry.find('=');
    std::string name = entry.substr(0, eq);
    if (!name.starts_with(kPrefix) || name == kConfigurationPath) continue;
    overrides.emplace_back(std::move(name),
                           eq == std::string::npos ? std::string() : entry.substr(eq + 1));
  }
  std::stable_sort(overrides.begin(), overrides.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  if (!root.is_map()) root = ConfigNode::make_map();
  for (const auto& [name, value] : overrides) apply_one(root, name, value, warnings);
}

}  // namespace onsen::config
