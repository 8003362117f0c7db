// load(): file (or embedded defaults) -> tree -> REGISTRY_* overrides -> validated Config.

#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "config/default_config.h"
#include "config/duration.h"
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
    if (auto d = parse_go_duration(node.scalar)) {
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

// --- Conversion
// -----------------------------------------------------------------------------------

class Converter {
 public:
  explicit Converter(std::vector<std::string>& warnings) : warnings_(warnings) {}

  Config run(const ConfigNode& root) {
    Config cfg;
    env_sources_ = &cfg.env_sources;
    read_version(root);
    for (const auto& [k, v] : root.entries) {
      if (k == "version" || k == "loglevel") {
        // version: read above; loglevel: deprecated, below.
      } else if (k == "log") {
        read_log(v, cfg.log);
      } else if (k == "storage") {
        read_storage(v, cfg.storage);
      } else if (k == "http") {
        read_http(v, cfg.http);
      } else if (k == "auth") {
        read_auth(v, cfg.auth);
      } else if (is_ignored_section(k)) {
        // Accepted and ignored.
      } else {
        unknown(k, v);
      }
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

  // A key with a value that Onsen does not act on yet: said at startup, not silently dropped.
  void ignored(const std::string& key) {
    warnings_.push_back(key + ": accepted and ignored (not implemented yet)");
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

  void read_log(const ConfigNode& node, LogConfig& log) {
    if (!expect_map(node, "log")) return;
    for (const auto& [k, v] : node.entries) {
      std::string key = "log." + k;
      if (k == "level") {
        read_level(v, key, log);
      } else if (k == "formatter") {
        read_string(v, key, log.formatter);
        if (log.formatter != "text" && log.formatter != "json" && log.formatter != "logstash") {
          fail(v, key, "expected one of text, json, logstash, got " + describe(v));
        }
      } else if (k == "fields") {
        if (!expect_map(v, key)) continue;
        log.fields.clear();
        for (const auto& [name, value] : v.entries) {
          read_string(value, key + "." + name, log.fields[name]);
        }
      } else if (k == "accesslog") {
        if (!expect_map(v, key)) continue;
        for (const auto& [ak, av] : v.entries) {
          if (ak == "disabled") {
            read_bool(av, key + ".disabled", log.access_log_disabled);
          } else {
            unknown(key + "." + ak, av);
          }
        }
      } else if (k == "hooks") {
        // Accepted and ignored.
      } else {
        unknown(key, v);
      }
    }
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

    for (const auto& [k, v] : node.entries) {
      std::string key = "storage." + k;
      if (k == "delete") {
        if (!expect_map(v, key)) continue;
        for (const auto& [dk, dv] : v.entries) {
          if (dk == "enabled") {
            read_bool(dv, key + ".enabled", storage.delete_enabled);
          } else {
            unknown(key + "." + dk, dv);
          }
        }
      } else if (k == "maintenance") {
        read_maintenance(v, key, storage);
      } else if (k == "cache") {
        read_cache(v, key);
      } else if (k == "redirect" || k == "tag") {
        // Accepted and ignored: no backend redirects; no tag concurrency limit.
      } else {
        read_driver(k, v, storage);
      }
    }
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

  void read_maintenance(const ConfigNode& node, const std::string& key, StorageConfig& storage) {
    if (!expect_map(node, key)) return;
    for (const auto& [k, v] : node.entries) {
      std::string mkey = key + "." + k;
      if (k == "uploadpurging") {
        read_upload_purging(v, mkey, storage);
      } else if (k == "readonly") {
        if (!expect_map(v, mkey)) continue;
        for (const auto& [rk, rv] : v.entries) {
          if (rk == "enabled") {
            read_bool(rv, mkey + ".enabled", storage.read_only);
          } else {
            unknown(mkey + "." + rk, rv);
          }
        }
      } else {
        unknown(mkey, v);
      }
    }
  }

  void read_upload_purging(const ConfigNode& node, const std::string& key, StorageConfig& storage) {
    if (!expect_map(node, key)) return;
    const ConfigNode* interval_node = nullptr;
    for (const auto& [k, v] : node.entries) {
      std::string pkey = key + "." + k;
      if (k == "enabled") {
        read_bool(v, pkey, storage.upload_purging_enabled);
      } else if (k == "dryrun") {
        read_bool(v, pkey, storage.upload_purging_dry_run);
      } else if (k == "age") {
        if (auto d = read_duration(v, pkey)) {
          storage.upload_purging_age = std::chrono::ceil<std::chrono::seconds>(*d);
        }
      } else if (k == "interval") {
        if (auto d = read_duration(v, pkey)) {
          storage.upload_purging_interval = std::chrono::ceil<std::chrono::seconds>(*d);
          interval_node = &v;
        }
      } else {
        unknown(pkey, v);
      }
    }
    if (storage.upload_purging_enabled && interval_node &&
        storage.upload_purging_interval.count() == 0) {
      fail(*interval_node, key + ".interval", "must be positive when upload purging is enabled");
    }
  }

  void read_cache(const ConfigNode& node, const std::string& key) {
    if (!expect_map(node, key)) return;
    for (const auto& [k, v] : node.entries) {
      std::string ckey = key + "." + k;
      if (k == "blobdescriptor" || k == "layerinfo") {  // layerinfo: deprecated name
        // Onsen's caches are always in memory: the key only chooses what to warn about.
        std::string kind;
        read_string(v, ckey, kind);
        if (kind == "redis") {
          warnings_.push_back(ckey + ": redis is not supported, using inmemory");
        } else if (!kind.empty() && kind != "inmemory") {
          warnings_.push_back(ckey + ": unknown cache type \"" + kind + "\", using inmemory");
        }
      } else if (k == "blobdescriptorsize") {
        uint64_t ignored = 0;
        read_uint(v, ckey, ignored);
      } else {
        unknown(ckey, v);
      }
    }
  }

  void read_http(const ConfigNode& node, HttpConfig& http) {
    if (!expect_map(node, "http")) return;
    const ConfigNode* addr_node = nullptr;
    for (const auto& [k, v] : node.entries) {
      std::string key = "http." + k;
      if (k == "addr") {
        read_string(v, key, http.addr);
        addr_node = &v;
      } else if (k == "net") {
        read_string(v, key, http.net);
        if (http.net != "tcp" && http.net != "unix") {
          fail(v, key, "expected tcp or unix, got " + describe(v));
        }
      } else if (k == "prefix") {
        read_string(v, key, http.prefix);
      } else if (k == "host") {
        read_string(v, key, http.host);
        if (!http.host.empty() && !valid_url(http.host)) {
          fail(v, key,
               "expected an absolute URL such as https://registry.example.com, got " + describe(v));
        }
      } else if (k == "secret") {
        std::string secret;
        read_string(v, key, secret);
        if (!secret.empty()) ignored(key);
      } else if (k == "relativeurls") {
        read_bool(v, key, http.relative_urls);
      } else if (k == "draintimeout") {
        if (auto d = read_duration(v, key)) {
          http.drain_timeout = std::chrono::ceil<std::chrono::seconds>(*d);
        }
      } else if (k == "idletimeout" || k == "readtimeout") {
        if (auto d = read_duration(v, key)) {
          if (d->count() == 0) fail(v, key, "expected a positive duration, got " + describe(v));
          (k == "idletimeout" ? http.idle_timeout : http.read_timeout) =
              std::chrono::ceil<std::chrono::seconds>(*d);
        }
      } else if (k == "maxconnections") {
        read_uint(v, key, http.max_connections);
        if (http.max_connections == 0) fail(v, key, "expected a positive integer, got 0");
      } else if (k == "minbodyrate") {
        read_uint(v, key, http.min_body_rate);
      } else if (k == "automaticcrossmount") {
        read_bool(v, key, http.automatic_cross_mount);
      } else if (k == "headers") {
        if (!expect_map(v, key)) continue;
        http.headers.clear();
        for (const auto& [name, values] : v.entries) {
          read_string_list(values, key + "." + name, http.headers[name]);
        }
      } else if (k == "tls") {
        read_tls(v, key, http.tls);
      } else if (k == "debug") {
        if (!expect_map(v, key)) continue;
        for (const auto& [dk, dv] : v.entries) {
          if (dk == "addr") {
            std::string addr;
            read_string(dv, key + ".addr", addr);
            if (!addr.empty()) ignored(key + ".addr");
          } else if (dk == "prometheus") {
            // Accepted and ignored.
          } else {
            unknown(key + "." + dk, dv);
          }
        }
      } else if (k == "http2") {
        // Accepted and ignored.
      } else {
        unknown(key, v);
      }
    }
    if (http.net == "tcp" && !valid_host_port(http.addr)) {
      ConfigNode none;
      fail(addr_node ? *addr_node : none, "http.addr",
           "expected host:port (such as :5000 or 127.0.0.1:5000), got \"" + http.addr + "\"");
    }
    if (http.net == "unix" && http.addr.empty()) {
      ConfigNode none;
      fail(addr_node ? *addr_node : none, "http.addr", "expected a socket path for net unix");
    }
  }

  void read_tls(const ConfigNode& node, const std::string& key, TlsConfig& tls) {
    if (!expect_map(node, key)) return;
    for (const auto& [k, v] : node.entries) {
      std::string tkey = key + "." + k;
      if (k == "certificate") {
        read_string(v, tkey, tls.certificate);
      } else if (k == "key") {
        read_string(v, tkey, tls.key);
      } else if (k == "clientcas") {
        read_string_list(v, tkey, tls.client_cas);
      } else if (k == "minimumtls") {
        read_string(v, tkey, tls.minimum_tls);
        if (tls.minimum_tls != "tls1.0" && tls.minimum_tls != "tls1.1" &&
            tls.minimum_tls != "tls1.2" && tls.minimum_tls != "tls1.3") {
          fail(v, tkey, "expected one of tls1.0, tls1.1, tls1.2, tls1.3, got " + describe(v));
        }
      } else if (k == "ciphersuites") {
        // The names are checked against http's table (http/cipher_suites.h) before serving.
        read_string_list(v, tkey, tls.cipher_suites);
        record_env(tkey, v);
      } else if (k == "letsencrypt") {
        if (!expect_map(v, tkey)) continue;
        std::string cachefile;
        if (const ConfigNode* c = v.find("cachefile"))
          read_string(*c, tkey + ".cachefile", cachefile);
        if (!cachefile.empty()) fail(v, tkey, "Let's Encrypt is not supported yet");
      } else {
        unknown(tkey, v);
      }
    }
    if (tls.certificate.empty() != tls.key.empty()) {
      fail(node, key,
           std::string("certificate and key must both be set (") +
               (tls.key.empty() ? "key" : "certificate") + " is missing)");
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
    if (name != "htpasswd") fail(params, "auth", "provider " + name + " is not supported yet");

    HtpasswdConfig htpasswd;
    std::string key = "auth.htpasswd";
    if (expect_map(params, key)) {
      for (const auto& [k, v] : params.entries) {
        if (k == "realm") {
          read_string(v, key + ".realm", htpasswd.realm);
        } else if (k == "path") {
          read_string(v, key + ".path", htpasswd.path);
        } else if (k == "throttle") {
          read_throttle(v, key + ".throttle", htpasswd.throttle);
        } else {
          unknown(key + "." + k, v);
        }
      }
    }
    if (htpasswd.realm.empty()) throw ConfigError(key + ".realm: required");
    if (htpasswd.path.empty()) throw ConfigError(key + ".path: required");
    auth.htpasswd = std::move(htpasswd);
  }

  void read_throttle(const ConfigNode& node, const std::string& key, ThrottleConfig& throttle) {
    if (!expect_map(node, key)) return;
    for (const auto& [k, v] : node.entries) {
      std::string tkey = key + "." + k;
      if (k == "failures") {
        read_uint(v, tkey, throttle.failures);
      } else if (k == "addressfailures") {
        read_uint(v, tkey, throttle.address_failures);
      } else if (k == "window") {
        if (auto d = read_duration(v, tkey)) {
          if (*d < std::chrono::seconds(1)) {
            fail(v, tkey, "expected a duration of at least 1s, got " + describe(v));
          }
          throttle.window = std::chrono::ceil<std::chrono::seconds>(*d);
        }
      } else {
        unknown(tkey, v);
      }
    }
  }

  // Remembers which variable set `key`, for Config::error.
  void record_env(const std::string& key, const ConfigNode& node) {
    if (!node.env.empty()) (*env_sources_)[key] = node.env;
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
