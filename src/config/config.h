// Onsen's configuration: Distribution's YAML format (version 0.1), overridden by REGISTRY_*
// environment variables with Distribution's rules. Loading is the only thing this layer does.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace onsen::config {

// A configuration error: names the key and the reason ("http.addr: not a host:port"). Startup
// prints it on one line and exits with status 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TlsConfig {
  std::string certificate;  // PEM file path; empty = plain HTTP
  std::string key;
  // Onsen's own (http.tls.secondcertificate/secondkey): a second pair of another key type.
  std::string second_certificate, second_key;
  std::vector<std::string> client_cas;
  std::string minimum_tls = "tls1.2";  // tls1.0 | tls1.1 | tls1.2 | tls1.3
  std::vector<std::string> cipher_suites;
  // Onsen's own (http.tls.ticketkeys): session ticket keys shared by replicas (a file of 80-byte
  // keys, raw or base64; see http/ticket_keys.h); empty = random keys in memory, rotated.
  std::string ticket_keys;
};

struct HttpConfig {
  std::string addr = ":5000";  // host:port, or a path when net == "unix"
  std::string net = "tcp";     // tcp | unix
  std::string prefix;          // URL prefix before /v2/
  std::string host;            // external base URL for Location headers
  bool relative_urls = false;
  std::map<std::string, std::vector<std::string>> headers;  // extra response headers
  TlsConfig tls;
  // http.debug.addr: a second, plain-HTTP listener for /debug/vars (the server's counters as
  // JSON, as registry:2's debug server has the path); empty = none.
  std::string debug_addr;
  // http.debug.prometheus (Distribution's keys): the debug listener also serves the metrics in
  // Prometheus' text format at prometheus_path (cli/metrics_exporter).
  bool prometheus_enabled = false;
  std::string prometheus_path = "/metrics";
  std::chrono::seconds drain_timeout{10};
  // Onsen extensions (registry:2 has no such keys): connection limits of the HTTP server.
  std::chrono::seconds idle_timeout{120};  // http.idletimeout: keep-alive wait for a request
  std::chrono::seconds read_timeout{60};   // http.readtimeout: per read/write progress, headers
  uint64_t max_connections = 20000;        // http.maxconnections: beyond, accepted then closed
  // http.minbodyrate: bytes per second a request body must keep up, averaged over each
  // http.readtimeout spent waiting for it; 0 = no minimum.
  uint64_t min_body_rate = 1024;
  // http.automaticcrossmount: POST ?mount=<digest> without `from` mounts the blob from any
  // repository holding it. Off by default: it tells the caller the blob exists somewhere. (Under
  // http, not storage: registry:2 rejects an unknown storage key but ignores unknown http keys, so
  // the same file still starts it.)
  bool automatic_cross_mount = false;
};

// auth.htpasswd.throttle (an Onsen extension; registry:2's htpasswd provider ignores keys it does
// not know): failed-login throttling, see src/auth/failure_throttle.h.
struct ThrottleConfig {
  uint64_t failures = 30;           // per client address and user name within `window`; 0: off
  uint64_t address_failures = 100;  // per client address, all user names; 0: no per-address cap
  std::chrono::seconds window{180};
};

struct HtpasswdConfig {
  std::string realm;
  std::string path;
  ThrottleConfig throttle;
};

// auth.token: Distribution's token authentication (auth/token_authorizer.h). rootcertbundle or
// jwks, or both; signingalgorithms and jwks as in Distribution 3, autoredirectpath too.
struct TokenConfig {
  std::string realm;
  std::string service;
  std::string issuer;
  std::string rootcertbundle;
  std::string jwks;
  std::vector<std::string> signingalgorithms;  // empty: every asymmetric algorithm
  bool autoredirect = false;
  std::string autoredirectpath = "/auth/token";
};

struct AuthConfig {
  std::optional<HtpasswdConfig> htpasswd;  // at most one provider is set
  std::optional<TokenConfig> token;
};

// storage.retention (Onsen's own, shaped as zot's): per repository glob, the tags to keep and how
// long untagged manifests stay; applied by the garbage collector (registry/retention.h).
struct KeepTagsConfig {
  std::vector<std::string> patterns;  // regular expressions matching whole tag names
  std::optional<uint64_t> most_recently_pushed_count;
  std::optional<std::chrono::seconds> pushed_within;
};
struct RetentionPolicyConfig {
  std::vector<std::string> repositories;  // globs
  std::vector<KeepTagsConfig> keep_tags;
  std::optional<std::chrono::seconds> delete_untagged_older_than;
};
struct RetentionConfig {
  bool dry_run = false;
  std::vector<RetentionPolicyConfig> policies;
};

// storage.gc (Onsen's own; Distribution collects offline only): online garbage collection inside
// the server (cli/gc_scheduler.h, docs/ARCHITECTURE.md "Garbage collection").
struct GcConfig {
  std::chrono::seconds interval{0};  // between scheduled collections; 0: none scheduled
  // Nothing younger than this is collected (blobs, layer links, revisions): what a push in
  // progress, here or on another replica, still needs.
  std::chrono::seconds grace{3600};
  // storage.gc.window "HH:MM-HH:MM" (local time): scheduled collections start only inside it and
  // stop between steps when it closes. Minutes since midnight; end < start spans midnight.
  std::optional<std::pair<int, int>> window;
  bool dry_run = false;
  bool delete_untagged = false;
  bool delete_referrers = true;  // an artifact whose subject is gone is collected
};

struct StorageConfig {
  // The driver and its parameters as written (scalars as text; null ones left out). This layer
  // knows no driver: storage::check_parameters validates them (see Config::error).
  std::string driver = "filesystem";
  std::map<std::string, std::string> parameters;
  bool delete_enabled = false;
  bool read_only = false;                               // maintenance.readonly.enabled
  bool upload_purging_enabled = true;                   // maintenance.uploadpurging
  std::chrono::seconds upload_purging_age{168 * 3600};  // rounded up to whole seconds
  std::chrono::seconds upload_purging_interval{24 * 3600};
  bool upload_purging_dry_run = false;
  // storage.redirect.disable: blob GETs stream through the registry even when the driver could
  // redirect the client to the store (S3's presigned URLs).
  bool redirect_disabled = false;
  // storage.cache.blobdescriptor (inmemory | redis; empty: unset) and blobdescriptorsize, as in
  // Distribution: set, it turns on the read cache of drivers whose reads are network round trips
  // (registry/read_caching_driver.h), keeping at most that many keys.
  std::string blob_descriptor_cache;
  uint64_t blob_descriptor_cache_size = 10000;
  RetentionConfig retention;
  GcConfig gc;
};

struct LogConfig {
  std::string level = "info";                 // error | warn | info | debug
  std::string formatter = "text";             // text | json | logstash (= json); see cli/logging.h
  std::map<std::string, std::string> fields;  // added to every JSON line (text lines omit them)
  bool access_log_disabled = false;           // log.accesslog.disabled: no per-request line
};

// The `redis:` section, as Distribution's (2.8): Onsen uses Redis to carry listing changes
// between replicas serving one storage (docs/ARCHITECTURE.md, "Several replicas"). Unset (empty
// addr): no Redis, each process alone.
struct RedisConfig {
  std::string addr;  // host:port
  std::string password;
  uint64_t db = 0;
  std::chrono::milliseconds dial_timeout{5000};
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
};

// `quotas:` (Onsen's own, top level): one entry per repository glob, the first whose glob matches
// a repository's name applies to it (registry/quotas.h). A limit left out is no limit.
struct QuotaConfig {
  std::string repository;         // a glob (fnmatch: "team-a/*", "library/ubuntu", "*")
  std::optional<uint64_t> bytes;  // stored bytes, deduplicated within the repository
  std::optional<uint64_t> tags;
};

// `usage:` (Onsen's own): the storage usage index (registry/usage_index.h).
struct UsageConfig {
  // usage.enabled: keep the index (its memory grows with the blobs each repository links); on
  // by itself when `quotas:` has an entry, which needs it.
  bool enabled = false;
  // How often the index walks the storage again, to take in what other writers (other replicas,
  // a garbage collection) changed without telling it; at least 1s.
  std::chrono::seconds refresh{600};
};

// `health:` (Distribution's): checks run on their own threads every interval, whose failures
// /debug/health lists and that answer every API request 503 UNAVAILABLE (cli/health_checks.h).
// An interval of 0 is 10s; a threshold of 0 or 1: one failure is unhealthy.
struct HealthCheckConfig {
  // health.file[].file, health.http[].uri or health.tcp[].addr: also the check's name.
  std::string target;
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds timeout{0};  // http and tcp; 0 = the interval
  uint64_t threshold = 0;                // failures in a row before the check fails
  std::map<std::string, std::vector<std::string>> headers;  // http: sent with each HEAD
  uint64_t status_code = 200;                               // http: the status expected
};

struct HealthConfig {
  // health.storagedriver: a stat of the storage's root (check name "storagedriver_<driver>").
  bool storage_enabled = false;
  std::chrono::milliseconds storage_interval{0};
  uint64_t storage_threshold = 0;
  std::vector<HealthCheckConfig> files, http, tcp;
};

// `notifications:` as Distribution's: webhook endpoints told of pushes, pulls and deletes
// (notify/notifier.h). Durations and the threshold at 0 take Distribution's defaults.
struct NotificationEndpointConfig {
  std::string name;
  std::string url;
  std::map<std::string, std::vector<std::string>> headers;
  std::chrono::milliseconds timeout{1000};
  uint64_t threshold = 10;
  std::chrono::milliseconds backoff{1000};
  // ignoredmediatypes and ignore.mediatypes together, as Distribution merges them.
  std::vector<std::string> ignored_media_types;
  std::vector<std::string> ignored_actions;  // ignore.actions
  bool disabled = false;
  // Onsen's own (registry:2's queue has no bound): events waiting at most for this endpoint.
  uint64_t queue_size = 10000;
};
struct NotificationsConfig {
  bool include_references = false;  // events.includereferences
  std::vector<NotificationEndpointConfig> endpoints;
};

// Keys that are accepted (validated where they have a type) but do nothing are not here: load()
// ignores them silently when registry:2 would behave the same without them (http.secret: upload
// state lives in the storage).
struct Config {
  LogConfig log;
  StorageConfig storage;
  HttpConfig http;
  AuthConfig auth;
  RedisConfig redis;
  std::vector<QuotaConfig> quotas;
  UsageConfig usage;
  HealthConfig health;
  NotificationsConfig notifications;

  // Values this layer passes through for a lower layer to validate (storage.<driver>.<param>,
  // http.tls.ciphersuites) are judged after load(); these word that verdict the way load() words
  // its own: "key: reason", or named by the REGISTRY_* variable that set the key.
  ConfigError error(const std::string& key, const std::string& reason) const;
  std::string unknown_key_warning(const std::string& key) const;  // as load() warns
  // Key -> the REGISTRY_* variable that set it, for the pass-through keys above.
  std::map<std::string, std::string> env_sources;
};

// Loads the configuration: YAML from `path` when non-empty (ConfigError when unreadable), else the
// embedded defaults; then applies REGISTRY_* overrides from `environ_entries` ("KEY=value"
// strings). Unknown keys produce warnings appended to `warnings`. Invalid values throw ConfigError.
Config load(const std::string& path, const std::vector<std::string>& environ_entries,
            std::vector<std::string>* warnings);

}  // namespace onsen::config
