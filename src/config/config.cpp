// load(): file (or embedded defaults) -> tree -> REGISTRY_* overrides -> validated Config.

#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>

#include "base/duration.h"
#include "config/byte_size.h"
#include "config/default_config.h"
#include "config/env_overrides.h"
#include "config/keys.h"
#include "config/tree.h"

namespace onsen::config {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The variable that sets `key` directly: http.tls.key -> REGISTRY_HTTP_TLS_KEY.
std::string env_name_for(std::string_view key) {
  std::string name = "REGISTRY_";
  for (char c : key) {
    name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

// "storage.delete.enabled: reason", or, when the value came from the environment,
// "REGISTRY_STORAGE_DELETE_ENABLED: reason" (with the key too if the variable set a parent).
ConfigError located(const std::string& env, const std::string& key, const std::string& reason) {
  if (env.empty()) return ConfigError(key + ": " + reason);
  if (lower(env) == lower(env_name_for(key))) return ConfigError(env + ": " + reason);
  return ConfigError(env + ": " + key + ": " + reason);
}

[[noreturn]] void fail(const ConfigNode& node, const std::string& key, const std::string& reason) {
  throw located(node.env, key, reason);
}

std::string unknown_warning(const std::string& key, const std::string& env) {
  std::string warning = "unknown configuration key: " + key;
  if (!env.empty()) warning += " (from " + env + ")";
  return warning;
}

[[noreturn]] void fail_type(const ConfigNode& node, const std::string& key,
                            const std::string& expected) {
  std::string reason = "expected " + expected + ", got " + describe(node);
  if (!node.env.empty() && (node.is_map() || node.is_sequence())) {
    reason += " (the value is parsed as YAML; quote it)";
  }
  fail(node, key, reason);
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// --- Typed readers: a null node leaves `out` at its default. -----------------------------------

void read_string(const ConfigNode& node, const std::string& key, std::string& out) {
  if (node.is_null()) return;
  if (!node.is_scalar()) fail_type(node, key, "a string");
  out = node.scalar;
}

void read_bool(const ConfigNode& node, const std::string& key, bool& out) {
  if (node.is_null()) return;
  if (node.is_scalar()) {
    // YAML 1.1 booleans, as Distribution's yaml.v2 reads them.
    static constexpr std::string_view kTrue[] = {"y",  "Y",  "yes",  "Yes",  "YES", "on",
                                                 "On", "ON", "true", "True", "TRUE"};
    static constexpr std::string_view kFalse[] = {"n",   "N",   "no",    "No",    "NO",   "off",
                                                  "Off", "OFF", "false", "False", "FALSE"};
    const std::string& s = node.scalar;
    if (std::find(std::begin(kTrue), std::end(kTrue), s) != std::end(kTrue)) {
      out = true;
      return;
    }
    if (std::find(std::begin(kFalse), std::end(kFalse), s) != std::end(kFalse)) {
      out = false;
      return;
    }
  }
  fail_type(node, key, "a boolean");
}

void read_uint(const ConfigNode& node, const std::string& key, uint64_t& out) {
  if (node.is_null()) return;
  if (node.is_scalar() && !node.scalar.empty() && node.scalar.size() <= 18 &&
      std::all_of(node.scalar.begin(), node.scalar.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    out = std::stoull(node.scalar);
    return;
  }
  fail_type(node, key, "a non-negative integer");
}

// A non-negative Go duration ("30s", "1h30m").
std::optional<std::chrono::nanoseconds> read_duration(const ConfigNode& node,
                                                      const std::string& key) {
  if (node.is_null()) return std::nullopt;
  if (node.is_scalar()) {
    if (auto d = base::parse_go_duration(node.scalar)) {
      if (d->count() < 0) {
        fail(node, key, "expected a non-negative duration, got " + describe(node));
      }
      return d;
    }
  }
  fail_type(node, key, "a duration such as \"30s\", \"24h\" or \"1h30m\"");
}

// A list of strings; a single string is taken as a one-element list.
void read_string_list(const ConfigNode& node, const std::string& key,
                      std::vector<std::string>& out) {
  if (node.is_null()) return;
  if (node.is_scalar()) {
    out = {node.scalar};
    return;
  }
  if (!node.is_sequence()) fail_type(node, key, "a list of strings");
  out.clear();
  for (size_t i = 0; i < node.items.size(); ++i) {
    const ConfigNode& item = node.items[i];
    if (!item.is_scalar()) fail_type(item, key + "." + std::to_string(i), "a string");
    out.push_back(item.scalar);
  }
}

// Whether `node` is a map to descend into: false for null, ConfigError for anything else.
bool expect_map(const ConfigNode& node, const std::string& key) {
  if (node.is_null()) return false;
  if (!node.is_map()) fail_type(node, key, "a map");
  return true;
}

// `name: {}` for the scalar form of a one-of block ("storage: inmemory", "auth: htpasswd").
ConfigNode normalize_one_of(const ConfigNode& node) {
  if (!node.is_scalar()) return node;
  ConfigNode map = ConfigNode::make_map();
  map.env = node.env;
  ConfigNode selected;
  selected.env = node.env;
  map.entries.emplace_back(node.scalar, std::move(selected));
  return map;
}

bool valid_host_port(const std::string& addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = addr.substr(0, colon);
  std::string port = addr.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoul(port) > 65535) {
    return false;
  }
  bool bracketed = !host.empty() && host.front() == '[';
  if (bracketed) return host.size() > 2 && host.back() == ']';
  return host.find_first_of(":[]") == std::string::npos;
}

bool valid_url(const std::string& url) {
  size_t sep = url.find("://");
  if (sep == std::string::npos || sep == 0) return false;
  std::string scheme = lower(url.substr(0, sep));
  if (scheme != "http" && scheme != "https") return false;
  std::string rest = url.substr(sep + 3);
  std::string host = rest.substr(0, rest.find_first_of("/?#"));
  return !host.empty();
}

// --- Conversion: one table of keys per section ---------------------------------------------------

// What reads one key's value into Config. Null values never reach a reader (the default stays).
using Reader = std::function<void(const ConfigNode& node, const std::string& key)>;

// One key of a map section: its name and its reader. Adding a key is one line in a table below.
struct Key {
  std::string_view name;
  Reader read;
};

Reader string_to(std::string& out) {
  return [&out](const ConfigNode& n, const std::string& k) { read_string(n, k, out); };
}
Reader bool_to(bool& out) {
  return [&out](const ConfigNode& n, const std::string& k) { read_bool(n, k, out); };
}
Reader uint_to(uint64_t& out) {
  return [&out](const ConfigNode& n, const std::string& k) { read_uint(n, k, out); };
}
Reader string_list_to(std::vector<std::string>& out) {
  return [&out](const ConfigNode& n, const std::string& k) { read_string_list(n, k, out); };
}

// A string that must be one of `allowed`; the error reads "<expected>, got <value>".
Reader one_of(std::string& out, std::vector<std::string_view> allowed, std::string expected) {
  return [&out, allowed = std::move(allowed), expected = std::move(expected)](
             const ConfigNode& n, const std::string& k) {
    std::string value = out;
    read_string(n, k, value);
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
      fail(n, k, expected + ", got " + describe(n));
    }
    out = value;
  };
}

// A duration rounded up to whole seconds, at least `minimum` ("expected <what>, got ..." below).
Reader seconds_to(std::chrono::seconds& out, std::chrono::nanoseconds minimum = {},
                  std::string what = "") {
  return [&out, minimum, what = std::move(what)](const ConfigNode& n, const std::string& k) {
    if (auto d = read_duration(n, k)) {
      if (*d < minimum) fail(n, k, "expected " + what + ", got " + describe(n));
      out = std::chrono::ceil<std::chrono::seconds>(*d);
    }
  };
}

// A duration rounded up to whole milliseconds (health checks' intervals and timeouts).
Reader millis_to(std::chrono::milliseconds& out) {
  return [&out](const ConfigNode& n, const std::string& k) {
    if (auto d = read_duration(n, k)) out = std::chrono::ceil<std::chrono::milliseconds>(*d);
  };
}

// "HH:MM" -> minutes since midnight; nullopt unless 00:00..23:59.
std::optional<int> parse_clock(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  auto digits = [&](size_t at) -> int {
    char a = text[at], b = text[at + 1];
    if (a < '0' || a > '9' || b < '0' || b > '9') return -1;
    return (a - '0') * 10 + (b - '0');
  };
  int h = digits(0), m = digits(3);
  if (h < 0 || h > 23 || m < 0 || m > 59) return std::nullopt;
  return h * 60 + m;
}

// A daily time window "HH:MM-HH:MM" (storage.gc.window): start and end minutes since midnight.
Reader window_to(std::optional<std::pair<int, int>>& out) {
  return [&out](const ConfigNode& n, const std::string& k) {
    std::string text;
    read_string(n, k, text);
    size_t dash = text.find('-');
    std::optional<int> start, end;
    if (dash != std::string::npos) {
      start = parse_clock(std::string_view(text).substr(0, dash));
      end = parse_clock(std::string_view(text).substr(dash + 1));
    }
    if (!start || !end) {
      fail(n, k,
           "expected a daily window \"HH:MM-HH:MM\" such as \"01:00-05:00\", got " + describe(n));
    }
    if (*start == *end) fail(n, k, "the window " + describe(n) + " is empty (start = end)");
    out = std::make_pair(*start, *end);
  };
}

// A map whose keys are names chosen by the user (log.fields, http.headers): each value read by
// `read_value` into the map's entry, the map cleared first.
template <typename T, typename ReadValue>
Reader map_to(std::map<std::string, T>& out, ReadValue read_value) {
  return [&out, read_value](const ConfigNode& n, const std::string& k) {
    if (!expect_map(n, k)) return;
    out.clear();
    for (const auto& [name, value] : n.entries) read_value(value, k + "." + name, out[name]);
  };
}

// Accepted, and ignored in silence: registry:2 behaves alike without it (see each use).
const Reader kIgnore = [](const ConfigNode&, const std::string&) {};

class Converter {
 public:
  explicit Converter(std::vector<std::string>& warnings) : warnings_(warnings) {}

  Config run(const ConfigNode& root) {
    Config cfg;
    env_sources_ = &cfg.env_sources;
    read_version(root);
    std::vector<Key> top = {
        {"version", kIgnore},   // read above
        {"loglevel", kIgnore},  // deprecated: below
        {"log", [&](const ConfigNode& n, const std::string& k) { read_log(n, k, cfg.log); }},
        {"storage", [&](const ConfigNode& n, const std::string&) { read_storage(n, cfg.storage); }},
        {"http", [&](const ConfigNode& n, const std::string& k) { read_http(n, k, cfg.http); }},
        {"auth", [&](const ConfigNode& n, const std::string&) { read_auth(n, cfg.auth); }},
        {"redis", [&](const ConfigNode& n, const std::string& k) { read_redis(n, k, cfg.redis); }},
        {"quotas",
         [&](const ConfigNode& n, const std::string& k) { read_quotas(n, k, cfg.quotas); }},
        {"health",
         [&](const ConfigNode& n, const std::string& k) { read_health(n, k, cfg.health); }},
        {"notifications",
         [&](const ConfigNode& n, const std::string& k) {
           read_notifications(n, k, cfg.notifications);
         }},
        {"usage", section({{"enabled", bool_to(cfg.usage.enabled)},
                           {"refresh", seconds_to(cfg.usage.refresh, std::chrono::seconds(1),
                                                  "a duration of at least 1s")}})},
    };
    for (const auto& [k, v] : root.entries) {
      if (is_ignored_section(k)) continue;
      read_key(top, k, k, v);
    }
    const ConfigNode* log = root.find("log");
    const ConfigNode* level = log && log->is_map() ? log->find("level") : nullptr;
    const ConfigNode* loglevel = root.find("loglevel");
    if ((!level || level->is_null()) && loglevel) read_level(*loglevel, "loglevel", cfg.log);

    const ConfigNode* storage = root.find("storage");
    if (!storage || storage->is_null()) {
      throw ConfigError("storage: required: configure one driver (filesystem or inmemory)");
    }
    return cfg;
  }

 private:
  void unknown(const std::string& key, const ConfigNode& node) {
    warnings_.push_back(unknown_warning(key, node.env));
  }

  // Entry `name` (full key `key`) of a section: read by its entry of `keys`, else a warning.
  void read_key(const std::vector<Key>& keys, std::string_view name, const std::string& key,
                const ConfigNode& value) {
    for (const Key& k : keys) {
      if (k.name == name) {
        if (!value.is_null()) k.read(value, key);
        return;
      }
    }
    unknown(key, value);
  }

  // Every entry of the map `node` (null: nothing) through `keys`.
  void read_section(const ConfigNode& node, const std::string& key, const std::vector<Key>& keys) {
    if (!expect_map(node, key)) return;
    for (const auto& [k, v] : node.entries) read_key(keys, k, key + "." + k, v);
  }

  // A nested section as a reader of its parent's table.
  Reader section(std::vector<Key> keys) {
    return [this, keys = std::move(keys)](const ConfigNode& n, const std::string& k) {
      read_section(n, k, keys);
    };
  }

  // Remembers which variable set `key`, for Config::error.
  void record_env(const std::string& key, const ConfigNode& node) {
    if (!node.env.empty()) (*env_sources_)[key] = node.env;
  }

  void read_version(const ConfigNode& root) {
    const ConfigNode* v = root.find("version");
    if (!v || v->is_null()) throw ConfigError("version: required (expected \"0.1\")");
    if (!v->is_scalar() || v->scalar != "0.1") {
      fail(*v, "version", "unsupported version " + describe(*v) + " (expected \"0.1\")");
    }
  }

  void read_level(const ConfigNode& node, const std::string& key, LogConfig& log) {
    std::string level = log.level;
    read_string(node, key, level);
    level = lower(level);
    if (level == "warning") level = "warn";
    if (level != "error" && level != "warn" && level != "info" && level != "debug") {
      fail(node, key, "expected one of error, warn, info, debug, got " + describe(node));
    }
    log.level = level;
  }

  void read_log(const ConfigNode& node, const std::string& key, LogConfig& log) {
    read_section(
        node, key,
        {
            {"level", [&](const ConfigNode& n, const std::string& k) { read_level(n, k, log); }},
            {"formatter", one_of(log.formatter, {"text", "json", "logstash"},
                                 "expected one of text, json, logstash")},
            {"fields", map_to(log.fields, read_string)},
            {"accesslog", section({{"disabled", bool_to(log.access_log_disabled)}})},
            {"hooks", kIgnore},  // mail hooks: not supported
        });
  }

  void read_storage(const ConfigNode& raw, StorageConfig& storage) {
    ConfigNode node = normalize_one_of(raw);
    if (!expect_map(node, "storage")) return;

    std::vector<std::string> drivers;
    const ConfigNode* blame = &node;  // a driver set by the environment, for error messages
    for (const auto& [k, v] : node.entries) {
      if (is_storage_option(k)) continue;
      drivers.push_back(k);
      if (!v.env.empty() && blame->env.empty()) blame = &v;
    }
    if (drivers.empty()) {
      fail(node, "storage", "no driver configured (expected filesystem or inmemory)");
    }
    if (drivers.size() > 1) {
      fail(*blame, "storage", "exactly one driver must be configured, got " + join(drivers));
    }

    // The registry-level options; any other key is the driver.
    const ConfigNode* interval = nullptr;
    std::vector<Key> options = {
        {"delete", section({{"enabled", bool_to(storage.delete_enabled)}})},
        {"maintenance",
         section({
             {"uploadpurging", section({
                                   {"enabled", bool_to(storage.upload_purging_enabled)},
                                   {"dryrun", bool_to(storage.upload_purging_dry_run)},
                                   {"age", seconds_to(storage.upload_purging_age)},
                                   {"interval",
                                    [&, read = seconds_to(storage.upload_purging_interval)](
                                        const ConfigNode& n, const std::string& k) {
                                      read(n, k);
                                      interval = &n;
                                    }},
                               })},
             {"readonly", section({{"enabled", bool_to(storage.read_only)}})},
         })},
        {"cache", section({
                      {"blobdescriptor", cache_kind(storage)},
                      {"layerinfo", cache_kind(storage)},  // the deprecated name
                      {"blobdescriptorsize", uint_to(storage.blob_descriptor_cache_size)},
                  })},
        {"redirect", section({{"disable", bool_to(storage.redirect_disabled)}})},
        {"tag", kIgnore},  // no tag concurrency limit
        {"retention", [&](const ConfigNode& n,
                          const std::string& k) { read_retention(n, k, storage.retention); }},
        {"gc", section({
                   {"interval", seconds_to(storage.gc.interval)},
                   {"grace", seconds_to(storage.gc.grace)},
                   {"window", window_to(storage.gc.window)},
                   {"dryrun", bool_to(storage.gc.dry_run)},
                   {"deleteuntagged", bool_to(storage.gc.delete_untagged)},
                   {"deletereferrers", bool_to(storage.gc.delete_referrers)},
               })},
    };
    for (const auto& [k, v] : node.entries) {
      if (is_storage_option(k)) {
        read_key(options, k, "storage." + k, v);
      } else {
        read_driver(k, v, storage);
      }
    }
    // Blobs are kept for 10 minutes whatever the grace (registry::BlobStore::kLinkRefreshAge;
    // config cannot include it), revisions only for the grace: a shorter one lets a collection
    // take the untagged manifests of a push in progress (an index's children before the index).
    if (storage.gc.interval.count() > 0 && storage.gc.grace < std::chrono::minutes(10)) {
      warnings_.push_back("storage.gc.grace: " + std::to_string(storage.gc.grace.count()) +
                          "s is below 10m: a scheduled collection may delete the untagged "
                          "manifests of a push in progress (which then fails)");
    }
    if (storage.upload_purging_enabled && interval &&
        storage.upload_purging_interval.count() == 0) {
      fail(*interval, "storage.maintenance.uploadpurging.interval",
           "must be positive when upload purging is enabled");
    }
  }

  // storage.retention: {dryrun, policies: [{repositories, keeptags: [{patterns,
  // mostrecentlypushedcount, pushedwithin}], deleteuntaggedolderthan}]}.
  void read_retention(const ConfigNode& node, const std::string& key, RetentionConfig& retention) {
    read_section(node, key,
                 {
                     {"dryrun", bool_to(retention.dry_run)},
                     {"policies",
                      [&](const ConfigNode& n, const std::string& k) {
                        retention.policies.clear();
                        for_each_item(n, k, [&](const ConfigNode& item, const std::string& ik) {
                          read_retention_policy(item, ik, retention.policies.emplace_back());
                        });
                      }},
                 });
  }

  void read_retention_policy(const ConfigNode& node, const std::string& key,
                             RetentionPolicyConfig& policy) {
    read_section(
        node, key,
        {
            {"repositories", string_list_to(policy.repositories)},
            {"keeptags",
             [&](const ConfigNode& n, const std::string& k) {
               policy.keep_tags.clear();
               for_each_item(n, k, [&](const ConfigNode& item, const std::string& ik) {
                 read_keep_tags(item, ik, policy.keep_tags.emplace_back());
               });
             }},
            {"deleteuntaggedolderthan", optional_seconds_to(policy.delete_untagged_older_than)},
        });
    if (policy.repositories.empty()) fail(node, key + ".repositories", "required");
  }

  void read_keep_tags(const ConfigNode& node, const std::string& key, KeepTagsConfig& rule) {
    read_section(node, key,
                 {
                     {"patterns",
                      [&](const ConfigNode& n, const std::string& k) {
                        read_string_list(n, k, rule.patterns);
                        for (const auto& pattern : rule.patterns) {
                          try {
                            std::regex(pattern, std::regex::ECMAScript);
                          } catch (const std::regex_error& e) {
                            fail(n, k,
                                 "\"" + pattern + "\" is not a regular expression: " + e.what());
                          }
                        }
                      }},
                     {"mostrecentlypushedcount",
                      [&](const ConfigNode& n, const std::string& k) {
                        uint64_t count = 0;
                        read_uint(n, k, count);
                        rule.most_recently_pushed_count = count;
                      }},
                     {"pushedwithin", optional_seconds_to(rule.pushed_within)},
                 });
  }

  // Each item of a list (null: none), named "<key>.<index>".
  template <typename ReadItem>
  void for_each_item(const ConfigNode& node, const std::string& key, ReadItem read_item) {
    if (node.is_null()) return;
    if (!node.is_sequence()) fail_type(node, key, "a list");
    for (size_t i = 0; i < node.items.size(); ++i) {
      read_item(node.items[i], key + "." + std::to_string(i));
    }
  }

  static Reader optional_seconds_to(std::optional<std::chrono::seconds>& out) {
    return [&out](const ConfigNode& n, const std::string& k) {
      if (auto d = read_duration(n, k)) out = std::chrono::ceil<std::chrono::seconds>(*d);
    };
  }

  // The driver's parameters go through as text: the driver's factory validates them.
  void read_driver(const std::string& name, const ConfigNode& params, StorageConfig& storage) {
    std::string key = "storage." + name;
    storage.driver = name;
    record_env("storage", params);
    if (!expect_map(params, key)) return;
    for (const auto& [k, v] : params.entries) {
      if (v.is_null()) continue;
      if (!v.is_scalar()) fail_type(v, key + "." + k, "a scalar value");
      storage.parameters[k] = v.scalar;
      record_env(key + "." + k, v);
    }
  }

  // storage.cache.blobdescriptor: any value turns Onsen's read cache on (kept in memory; with
  // `redis:` configured, kept coherent across replicas through it).
  Reader cache_kind(StorageConfig& storage) {
    return [this, &storage](const ConfigNode& n, const std::string& k) {
      read_string(n, k, storage.blob_descriptor_cache);
      const std::string& kind = storage.blob_descriptor_cache;
      if (kind == "redis") {
        warnings_.push_back(k + ": redis: Onsen keeps this cache in memory, each replica its own " +
                            "(kept coherent through the redis: section when it is set)");
      } else if (!kind.empty() && kind != "inmemory") {
        warnings_.push_back(k + ": unknown cache type \"" + kind + "\", using inmemory");
      }
    };
  }

  // Distribution's keys; the connection pool and TLS are its client's business, not needed for
  // Onsen's two connections (tls.enabled is refused rather than ignored: it would connect in
  // clear text).
  void read_redis(const ConfigNode& node, const std::string& key, RedisConfig& redis) {
    auto millis_to = [](std::chrono::milliseconds& out) {
      return [&out](const ConfigNode& n, const std::string& k) {
        if (auto d = read_duration(n, k)) {
          if (d->count() <= 0) fail(n, k, "expected a positive duration, got " + describe(n));
          out = std::chrono::ceil<std::chrono::milliseconds>(*d);
        }
      };
    };
    read_section(node, key,
                 {
                     {"addr", string_to(redis.addr)},
                     {"password", string_to(redis.password)},
                     {"db", uint_to(redis.db)},
                     {"dialtimeout", millis_to(redis.dial_timeout)},
                     {"readtimeout", millis_to(redis.read_timeout)},
                     {"writetimeout", millis_to(redis.write_timeout)},
                     {"pool", kIgnore},
                     {"tls", section({{"enabled",
                                       [](const ConfigNode& n, const std::string& k) {
                                         bool enabled = false;
                                         read_bool(n, k, enabled);
                                         if (enabled) fail(n, k, "TLS to Redis is not supported");
                                       }}})},
                 });
  }

  // Distribution's keys (configuration.Notifications); a list item is reached from the
  // environment by its index (REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL), as Distribution allows.
  void read_notifications(const ConfigNode& node, const std::string& key,
                          NotificationsConfig& notifications) {
    // A Go duration; 0 or less takes the default, as Distribution's endpoint does.
    auto millis_or_default = [](std::chrono::milliseconds& out) {
      return [&out](const ConfigNode& n, const std::string& k) {
        if (auto d = read_duration(n, k); d && d->count() > 0) {
          out = std::chrono::ceil<std::chrono::milliseconds>(*d);
        }
      };
    };
    read_section(
        node, key,
        {
            {"events", section({{"includereferences", bool_to(notifications.include_references)}})},
            {"endpoints",
             [&](const ConfigNode& n, const std::string& k) {
               notifications.endpoints.clear();
               for_each_item(n, k, [&](const ConfigNode& item, const std::string& at) {
                 NotificationEndpointConfig e;
                 std::vector<std::string> ignored_types;
                 read_section(
                     item, at,
                     {
                         {"name", string_to(e.name)},
                         {"url", string_to(e.url)},
                         {"headers", map_to(e.headers, read_string_list)},
                         {"timeout", millis_or_default(e.timeout)},
                         {"threshold",
                          [&](const ConfigNode& v, const std::string& vk) {
                            read_uint(v, vk, e.threshold);
                            if (e.threshold == 0) e.threshold = 10;
                          }},
                         {"backoff", millis_or_default(e.backoff)},
                         {"ignoredmediatypes", string_list_to(e.ignored_media_types)},
                         {"ignore", section({{"mediatypes", string_list_to(ignored_types)},
                                             {"actions", string_list_to(e.ignored_actions)}})},
                         {"disabled", bool_to(e.disabled)},
                         {"queuesize",
                          [&](const ConfigNode& v, const std::string& vk) {
                            read_uint(v, vk, e.queue_size);
                            if (e.queue_size == 0)
                              fail(v, vk, "expected a positive integer, got 0");
                          }},
                     });
                 e.ignored_media_types.insert(e.ignored_media_types.end(), ignored_types.begin(),
                                              ignored_types.end());
                 if (!e.disabled && !valid_url(e.url)) {
                   const ConfigNode* url = item.is_map() ? item.find("url") : nullptr;
                   fail(url ? *url : item, at + ".url",
                        "expected an http:// or https:// URL, got \"" + e.url + "\"");
                 }
                 notifications.endpoints.push_back(std::move(e));
               });
             }},
        });
  }

  // A list of {repository, bytes, tags} maps; each needs a repository glob and some limit.
  void read_quotas(const ConfigNode& node, const std::string& key,
                   std::vector<QuotaConfig>& quotas) {
    if (!node.is_sequence()) fail_type(node, key, "a list of {repository, bytes, tags} maps");
    quotas.clear();
    for (size_t i = 0; i < node.items.size(); ++i) {
      const ConfigNode& item = node.items[i];
      const std::string at = key + "." + std::to_string(i);
      QuotaConfig quota;
      read_section(item, at,
                   {
                       {"repository", string_to(quota.repository)},
                       {"bytes",
                        [&](const ConfigNode& n, const std::string& k) {
                          auto bytes = n.is_scalar() ? parse_byte_size(n.scalar) : std::nullopt;
                          if (!bytes) {
                            fail_type(n, k, "a size such as \"10GiB\", \"500MB\" or \"1048576\"");
                          }
                          quota.bytes = bytes;
                        }},
                       {"tags",
                        [&](const ConfigNode& n, const std::string& k) {
                          quota.tags.emplace();
                          read_uint(n, k, *quota.tags);
                        }},
                   });
      if (quota.repository.empty()) fail(item, at + ".repository", "required (a repository glob)");
      if (!quota.bytes && !quota.tags) fail(item, at, "needs a limit: bytes, tags or both");
      quotas.push_back(std::move(quota));
    }
  }

  // Distribution's health section; each list item is one check, named by its target, and two
  // checks of one name would be one (registry:2 panics), so a repeated target is an error.
  void read_health(const ConfigNode& node, const std::string& key, HealthConfig& health) {
    std::set<std::string> names;
    auto checks = [&](std::vector<HealthCheckConfig>& out, std::string_view target_key,
                      bool network) -> Reader {
      // `out` by address: the reader runs after this lambda has returned.
      return [this, &names, list = &out, target_key, network](const ConfigNode& n,
                                                              const std::string& k) {
        if (!n.is_sequence()) fail_type(n, k, "a list of checks");
        list->clear();
        for (size_t i = 0; i < n.items.size(); ++i) {
          const ConfigNode& item = n.items[i];
          const std::string at = k + "." + std::to_string(i);
          HealthCheckConfig check;
          std::vector<Key> keys = {{target_key, string_to(check.target)},
                                   {"interval", millis_to(check.interval)},
                                   {"threshold", uint_to(check.threshold)}};
          if (network) keys.push_back({"timeout", millis_to(check.timeout)});
          if (target_key == "uri") {
            keys.push_back({"headers", map_to(check.headers, read_string_list)});
            keys.push_back({"statuscode", [&](const ConfigNode& v, const std::string& vk) {
                              read_uint(v, vk, check.status_code);
                              if (check.status_code < 100 || check.status_code > 599) {
                                fail(v, vk, "expected an HTTP status code, got " + describe(v));
                              }
                            }});
          }
          read_section(item, at, keys);
          const std::string target = at + "." + std::string(target_key);
          if (check.target.empty()) fail(item, target, "required");
          if (target_key == "uri" && !valid_url(check.target)) {
            fail(item, target, "expected an http:// or https:// URL, got \"" + check.target + "\"");
          }
          if (target_key == "addr" && !valid_host_port(check.target)) {
            fail(item, target, "expected host:port, got \"" + check.target + "\"");
          }
          if (!names.insert(check.target).second) {
            fail(item, target, "\"" + check.target + "\" is checked twice");
          }
          list->push_back(std::move(check));
        }
      };
    };
    read_section(node, key,
                 {
                     {"storagedriver", section({{"enabled", bool_to(health.storage_enabled)},
                                                {"interval", millis_to(health.storage_interval)},
                                                {"threshold", uint_to(health.storage_threshold)}})},
                     {"file", checks(health.files, "file", false)},
                     {"http", checks(health.http, "uri", true)},
                     {"tcp", checks(health.tcp, "addr", true)},
                 });
  }

  void read_http(const ConfigNode& node, const std::string& key, HttpConfig& http) {
    const ConfigNode* addr = nullptr;
    const std::string positive = "a positive duration";
    read_section(
        node, key,
        {
            {"addr",
             [&](const ConfigNode& n, const std::string& k) {
               read_string(n, k, http.addr);
               addr = &n;
             }},
            {"net", one_of(http.net, {"tcp", "unix"}, "expected tcp or unix")},
            {"prefix", string_to(http.prefix)},
            {"host",
             [&](const ConfigNode& n, const std::string& k) {
               read_string(n, k, http.host);
               if (!http.host.empty() && !valid_url(http.host)) {
                 fail(n, k,
                      "expected an absolute URL such as https://registry.example.com, got " +
                          describe(n));
               }
             }},
            // Distribution signs the upload state it puts in upload URLs (`_state`) with it, so
            // replicas must share it. Onsen's upload URLs carry only the upload id and the state
            // lives in the storage: any replica continues any upload without a secret.
            {"secret", kIgnore},
            {"relativeurls", bool_to(http.relative_urls)},
            {"draintimeout", seconds_to(http.drain_timeout)},
            {"idletimeout", seconds_to(http.idle_timeout, std::chrono::nanoseconds(1), positive)},
            {"readtimeout", seconds_to(http.read_timeout, std::chrono::nanoseconds(1), positive)},
            {"maxconnections",
             [&](const ConfigNode& n, const std::string& k) {
               read_uint(n, k, http.max_connections);
               if (http.max_connections == 0) fail(n, k, "expected a positive integer, got 0");
             }},
            {"minbodyrate", uint_to(http.min_body_rate)},
            {"automaticcrossmount", bool_to(http.automatic_cross_mount)},
            {"headers", map_to(http.headers, read_string_list)},
            {"tls", [&](const ConfigNode& n, const std::string& k) { read_tls(n, k, http.tls); }},
            {"debug",
             section({{"addr", string_to(http.debug_addr)},
                      {"prometheus", section({{"enabled", bool_to(http.prometheus_enabled)},
                                              {"path",
                                               [&](const ConfigNode& n, const std::string& k) {
                                                 string_to(http.prometheus_path)(n, k);
                                                 if (http.prometheus_path.empty() ||
                                                     http.prometheus_path[0] != '/') {
                                                   fail(n, k, "expected a path starting with /");
                                                 }
                                               }}})}})},
            {"http2", kIgnore},  // HTTP/1.1 only
        });
    ConfigNode none;
    if (http.net == "tcp" && !valid_host_port(http.addr)) {
      fail(addr ? *addr : none, "http.addr",
           "expected host:port (such as :5000 or 127.0.0.1:5000), got \"" + http.addr + "\"");
    }
    if (http.net == "unix" && http.addr.empty()) {
      fail(addr ? *addr : none, "http.addr", "expected a socket path for net unix");
    }
  }

  void read_tls(const ConfigNode& node, const std::string& key, TlsConfig& tls) {
    read_section(
        node, key,
        {
            {"certificate", string_to(tls.certificate)},
            {"key", string_to(tls.key)},
            {"clientcas", string_list_to(tls.client_cas)},
            {"ticketkeys", string_to(tls.ticket_keys)},
            {"secondcertificate", string_to(tls.second_certificate)},
            {"secondkey", string_to(tls.second_key)},
            {"minimumtls", one_of(tls.minimum_tls, {"tls1.0", "tls1.1", "tls1.2", "tls1.3"},
                                  "expected one of tls1.0, tls1.1, tls1.2, tls1.3")},
            // The names are checked against http's table (http/cipher_suites.h) before serving.
            {"ciphersuites",
             [&](const ConfigNode& n, const std::string& k) {
               read_string_list(n, k, tls.cipher_suites);
               record_env(k, n);
             }},
            {"letsencrypt",
             [&](const ConfigNode& n, const std::string& k) {
               if (!expect_map(n, k)) return;
               std::string cachefile;
               if (const ConfigNode* c = n.find("cachefile")) {
                 read_string(*c, k + ".cachefile", cachefile);
               }
               if (!cachefile.empty()) fail(n, k, "Let's Encrypt is not supported yet");
             }},
        });
    if (!expect_map(node, key)) return;
    if (tls.certificate.empty() != tls.key.empty()) {
      fail(node, key,
           std::string("certificate and key must both be set (") +
               (tls.key.empty() ? "key" : "certificate") + " is missing)");
    }
    if (tls.second_certificate.empty() != tls.second_key.empty()) {
      fail(node, key,
           std::string("secondcertificate and secondkey must both be set (") +
               (tls.second_key.empty() ? "secondkey" : "secondcertificate") + " is missing)");
    }
    if (!tls.second_certificate.empty() && tls.certificate.empty()) {
      fail(node, key, "secondcertificate needs a certificate and key");
    }
  }

  void read_auth(const ConfigNode& raw, AuthConfig& auth) {
    ConfigNode node = normalize_one_of(raw);
    if (!expect_map(node, "auth")) return;
    if (node.entries.empty()) return;
    if (node.entries.size() > 1) {
      std::vector<std::string> names;
      const ConfigNode* blame = &node;
      for (const auto& [k, v] : node.entries) {
        names.push_back(k);
        if (!v.env.empty() && blame->env.empty()) blame = &v;
      }
      fail(*blame, "auth", "exactly one provider can be configured, got " + join(names));
    }
    const auto& [name, params] = node.entries.front();
    if (name == "none") return;
    if (name == "token") return read_token(params, auth);
    if (name != "htpasswd") fail(params, "auth", "provider " + name + " is not supported yet");

    HtpasswdConfig htpasswd;
    ThrottleConfig& throttle = htpasswd.throttle;
    read_section(
        params, "auth.htpasswd",
        {
            {"realm", string_to(htpasswd.realm)},
            {"path", string_to(htpasswd.path)},
            {"throttle", section({
                             {"failures", uint_to(throttle.failures)},
                             {"addressfailures", uint_to(throttle.address_failures)},
                             {"window", seconds_to(throttle.window, std::chrono::seconds(1),
                                                   "a duration of at least 1s")},
                         })},
        });
    if (htpasswd.realm.empty()) throw ConfigError("auth.htpasswd.realm: required");
    if (htpasswd.path.empty()) throw ConfigError("auth.htpasswd.path: required");
    auth.htpasswd = std::move(htpasswd);
  }

  void read_token(const ConfigNode& params, AuthConfig& auth) {
    TokenConfig token;
    read_section(params, "auth.token",
                 {
                     {"realm", string_to(token.realm)},
                     {"service", string_to(token.service)},
                     {"issuer", string_to(token.issuer)},
                     {"rootcertbundle", string_to(token.rootcertbundle)},
                     {"jwks", string_to(token.jwks)},
                     {"signingalgorithms", string_list_to(token.signingalgorithms)},
                     {"autoredirect", bool_to(token.autoredirect)},
                     {"autoredirectpath", string_to(token.autoredirectpath)},
                 });
    // Distribution: "token auth requires a valid option string" for each of these.
    for (auto [key, value] :
         {std::pair{"realm", &token.realm}, std::pair{"service", &token.service},
          std::pair{"issuer", &token.issuer}}) {
      if (value->empty()) throw ConfigError(std::string("auth.token.") + key + ": required");
    }
    if (token.rootcertbundle.empty() && token.jwks.empty()) {
      throw ConfigError("auth.token: rootcertbundle or jwks required (the token signing keys)");
    }
    if (token.autoredirectpath.empty()) token.autoredirectpath = "/auth/token";
    auth.token = std::move(token);
  }

  std::vector<std::string>& warnings_;
  std::map<std::string, std::string>* env_sources_ = nullptr;
};

ConfigNode read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError(path + ": cannot read configuration file: is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read configuration file: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw ConfigError(path + ": cannot read configuration file: " + std::strerror(errno));
  }
  try {
    return parse_yaml(text.str());
  } catch (const YAML::Exception& e) {
    throw ConfigError(path + ": invalid YAML at line " + std::to_string(e.mark.line + 1) +
                      ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

}  // namespace

ConfigError Config::error(const std::string& key, const std::string& reason) const {
  auto env = env_sources.find(key);
  return located(env == env_sources.end() ? std::string() : env->second, key, reason);
}

std::string Config::unknown_key_warning(const std::string& key) const {
  auto env = env_sources.find(key);
  return unknown_warning(key, env == env_sources.end() ? std::string() : env->second);
}

Config load(const std::string& path, const std::vector<std::string>& environ_entries,
            std::vector<std::string>* warnings) {
  std::vector<std::string> local_warnings;
  std::vector<std::string>& out = warnings ? *warnings : local_warnings;

  ConfigNode root = path.empty() ? parse_yaml(std::string(default_config_text())) : read_file(path);
  if (root.is_null()) root = ConfigNode::make_map();
  if (!root.is_map()) {
    throw ConfigError((path.empty() ? std::string("configuration") : path) +
                      ": expected a map of configuration keys, got " + describe(root));
  }
  // The scalar forms "storage: inmemory" and "auth: htpasswd" become maps, so that overrides
  // such as REGISTRY_AUTH_HTPASSWD_REALM can reach into them.
  for (const char* key : {"storage", "auth"}) {
    if (ConfigNode* node = root.find(key)) *node = normalize_one_of(*node);
  }

  apply_env_overrides(root, environ_entries, out);
  return Converter(out).run(root);
}

}  // namespace onsen::config
