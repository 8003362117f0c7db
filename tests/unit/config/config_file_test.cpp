// load() from embedded defaults and from YAML files, without environment overrides.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "config/config.h"
#include "support/temp_dir.h"

namespace onsen::config {
namespace {

using namespace std::chrono_literals;
using onsen::test::TempDir;

// Loads `yaml` from a temp file with no environment.
Config load_yaml(const std::string& yaml, std::vector<std::string>* warnings = nullptr) {
  TempDir dir;
  return load(dir.write("config.yml", yaml), {}, warnings);
}

std::string error_of(const std::string& yaml, const std::vector<std::string>& env = {}) {
  TempDir dir;
  try {
    load(dir.write("config.yml", yaml), env, nullptr);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

constexpr const char* kMinimal = R"(version: 0.1
storage:
  filesystem:
    rootdirectory: /srv/registry
)";

TEST(ConfigDefaults, EmptyPathUsesEmbeddedDefaults) {
  std::vector<std::string> warnings;
  Config c = load("", {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.formatter, "text");
  EXPECT_EQ(c.log.fields, (std::map<std::string, std::string>{{"service", "registry"}}));
  EXPECT_EQ(c.storage.driver, "filesystem");
  EXPECT_EQ(c.storage.parameters.at("rootdirectory"), "/var/lib/registry");
  EXPECT_FALSE(c.storage.delete_enabled);
  EXPECT_FALSE(c.storage.read_only);
  EXPECT_FALSE(c.storage.redirect_disabled);
  EXPECT_TRUE(c.storage.upload_purging_enabled);
  EXPECT_EQ(c.storage.upload_purging_age, 168h);
  EXPECT_EQ(c.storage.upload_purging_interval, 24h);
  EXPECT_EQ(c.http.addr, ":5000");
  EXPECT_EQ(c.http.net, "tcp");
  EXPECT_EQ(c.http.headers.at("X-Content-Type-Options"), std::vector<std::string>{"nosniff"});
  EXPECT_TRUE(c.http.tls.certificate.empty());
  EXPECT_EQ(c.http.tls.minimum_tls, "tls1.2");
  EXPECT_FALSE(c.auth.htpasswd.has_value());
}

TEST(ConfigFile, RepositoryDevConfigLoadsCleanly) {
  // The file `make run` passes.
  auto dev = std::filesystem::path(__FILE__).parent_path() / "../../../config/dev.yml";
  std::vector<std::string> warnings;
  Config c = load(dev.string(), {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.storage.driver, "filesystem");
  EXPECT_EQ(c.storage.parameters.at("rootdirectory"), "./data");
  EXPECT_TRUE(c.storage.delete_enabled);
  EXPECT_EQ(c.http.addr, "127.0.0.1:5000");
}

TEST(ConfigFile, MinimalFileKeepsStructDefaults) {
  std::vector<std::string> warnings;
  Config c = load_yaml(kMinimal, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.storage.driver, "filesystem");
  EXPECT_EQ(c.storage.parameters.at("rootdirectory"), "/srv/registry");
  EXPECT_EQ(c.http.addr, ":5000");
  EXPECT_EQ(c.log.level, "info");
  EXPECT_TRUE(c.http.headers.empty());
  EXPECT_EQ(c.http.drain_timeout, 10s);
}

TEST(ConfigFile, EveryKey) {
  constexpr const char* kFull = R"(version: 0.1
log:
  accesslog:
    disabled: true
  level: debug
  formatter: json
  fields:
    service: registry
    environment: staging
  hooks:
    - type: mail
      levels: [panic]
storage:
  filesystem:
    rootdirectory: /data/registry
    maxthreads: 50
  delete:
    enabled: true
  redirect:
    disable: true
  cache:
    blobdescriptor: inmemory
    blobdescriptorsize: 10000
  maintenance:
    uploadpurging:
      enabled: true
      age: 1h30m
      interval: 30m
      dryrun: true
    readonly:
      enabled: true
auth:
  htpasswd:
    realm: basic-realm
    path: /auth/htpasswd
middleware:
  registry:
    - name: ARegistryMiddleware
reporting:
  bugsnag:
    apikey: key
http:
  addr: 0.0.0.0:5443
  net: tcp
  prefix: /my/nested/registry/
  host: https://myregistryaddress.org:5000
  secret: asecretforlocaldevelopment
  relativeurls: true
  draintimeout: 60s
  tls:
    certificate: /certs/domain.crt
    key: /certs/domain.key
    clientcas:
      - /path/to/ca.pem
      - /path/to/another/ca.pem
    minimumtls: tls1.3
    ciphersuites:
      - TLS_AES_128_GCM_SHA256
      - TLS_CHACHA20_POLY1305_SHA256
  debug:
    addr: localhost:5001
    prometheus:
      enabled: true
      path: /metrics
  headers:
    X-Content-Type-Options: [nosniff]
    Strict-Transport-Security: ["max-age=31536000", includeSubDomains]
  http2:
    disabled: false
notifications:
  endpoints:
    - name: alistener
      url: https://my.listener.com/event
      timeout: 1s
redis:
  addr: localhost:6379
health:
  storagedriver:
    enabled: true
    interval: 10s
proxy:
  remoteurl: https://registry-1.docker.io
validation:
  manifests:
    urls:
      allow: ['^https?://([^/]+\.)*example\.com/']
compatibility:
  schema1:
    enabled: false
)";
  std::vector<std::string> warnings;
  Config c = load_yaml(kFull, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.redis.addr, "localhost:6379");
  EXPECT_EQ(c.http.debug_addr, "localhost:5001");
  EXPECT_TRUE(c.http.prometheus_enabled);
  EXPECT_EQ(c.http.prometheus_path, "/metrics");

  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.formatter, "json");
  EXPECT_EQ(c.log.fields.size(), 2u);
  EXPECT_EQ(c.log.fields.at("environment"), "staging");
  EXPECT_TRUE(c.log.access_log_disabled);

  EXPECT_EQ(c.storage.driver, "filesystem");
  EXPECT_EQ(c.storage.parameters.at("rootdirectory"), "/data/registry");
  EXPECT_EQ(c.storage.parameters.at("maxthreads"), "50");
  EXPECT_TRUE(c.storage.delete_enabled);
  EXPECT_TRUE(c.storage.read_only);
  EXPECT_TRUE(c.storage.redirect_disabled);
  EXPECT_TRUE(c.storage.upload_purging_enabled);
  EXPECT_TRUE(c.storage.upload_purging_dry_run);
  EXPECT_EQ(c.storage.upload_purging_age, 90min);
  EXPECT_EQ(c.storage.upload_purging_interval, 30min);

  ASSERT_TRUE(c.auth.htpasswd.has_value());
  EXPECT_EQ(c.auth.htpasswd->realm, "basic-realm");
  EXPECT_EQ(c.auth.htpasswd->path, "/auth/htpasswd");

  EXPECT_EQ(c.http.addr, "0.0.0.0:5443");
  EXPECT_EQ(c.http.net, "tcp");
  EXPECT_EQ(c.http.prefix, "/my/nested/registry/");
  EXPECT_EQ(c.http.host, "https://myregistryaddress.org:5000");
  EXPECT_TRUE(c.http.relative_urls);
  EXPECT_EQ(c.http.drain_timeout, 60s);
  EXPECT_EQ(c.http.tls.certificate, "/certs/domain.crt");
  EXPECT_EQ(c.http.tls.key, "/certs/domain.key");
  EXPECT_EQ(c.http.tls.client_cas,
            (std::vector<std::string>{"/path/to/ca.pem", "/path/to/another/ca.pem"}));
  EXPECT_EQ(c.http.tls.minimum_tls, "tls1.3");
  EXPECT_EQ(c.http.tls.cipher_suites,
            (std::vector<std::string>{"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}));
  EXPECT_EQ(c.http.headers.size(), 2u);
  EXPECT_EQ(c.http.headers.at("Strict-Transport-Security"),
            (std::vector<std::string>{"max-age=31536000", "includeSubDomains"}));
}

TEST(ConfigFile, InmemoryDriverAndScalarForms) {
  Config c = load_yaml("version: 0.1\nstorage: inmemory\nauth: none\n");
  EXPECT_EQ(c.storage.driver, "inmemory");
  EXPECT_FALSE(c.auth.htpasswd.has_value());

  c = load_yaml("version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabled: yes\n");
  EXPECT_EQ(c.storage.driver, "inmemory");
  EXPECT_TRUE(c.storage.delete_enabled);
}

TEST(ConfigFile, UnixSocketAndMisc) {
  Config c = load_yaml(std::string(kMinimal) +
                       "http:\n  net: unix\n  addr: /run/onsen.sock\n  draintimeout: 1500ms\n"
                       "log:\n  level: WARNING\nauth:\n");
  EXPECT_EQ(c.http.net, "unix");
  EXPECT_EQ(c.http.addr, "/run/onsen.sock");
  EXPECT_EQ(c.http.drain_timeout, 2s);  // rounded up
  EXPECT_EQ(c.log.level, "warn");
  EXPECT_FALSE(c.auth.htpasswd.has_value());
}

TEST(ConfigFile, ConnectionLimits) {
  Config defaults = load_yaml(std::string(kMinimal));
  EXPECT_EQ(defaults.http.idle_timeout, 120s);
  EXPECT_EQ(defaults.http.read_timeout, 60s);
  EXPECT_EQ(defaults.http.max_connections, 20000u);
  Config c = load_yaml(std::string(kMinimal) +
                       "http:\n  idletimeout: 2s\n  readtimeout: 1500ms\n  maxconnections: 500\n");
  EXPECT_EQ(c.http.idle_timeout, 2s);
  EXPECT_EQ(c.http.read_timeout, 2s);  // rounded up
  EXPECT_EQ(c.http.max_connections, 500u);
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  readtimeout: 0s\n"),
            "http.readtimeout: expected a positive duration, got \"0s\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  maxconnections: 0\n"),
            "http.maxconnections: expected a positive integer, got 0");
}

TEST(ConfigFile, MinimumBodyRateAndAutomaticCrossMount) {
  Config defaults = load_yaml(std::string(kMinimal));
  EXPECT_EQ(defaults.http.min_body_rate, 1024u);
  EXPECT_FALSE(defaults.http.automatic_cross_mount);
  Config c =
      load_yaml(std::string(kMinimal) + "http:\n  minbodyrate: 0\n  automaticcrossmount: true\n");
  EXPECT_EQ(c.http.min_body_rate, 0u);  // 0: no minimum
  EXPECT_TRUE(c.http.automatic_cross_mount);
  Config env =
      load("", {"REGISTRY_HTTP_AUTOMATICCROSSMOUNT=true", "REGISTRY_HTTP_MINBODYRATE=50"}, nullptr);
  EXPECT_TRUE(env.http.automatic_cross_mount);
  EXPECT_EQ(env.http.min_body_rate, 50u);
  EXPECT_NE(error_of(std::string(kMinimal) + "http:\n  automaticcrossmount: maybe\n")
                .find("http.automaticcrossmount"),
            std::string::npos);
}

TEST(ConfigFile, TlsTicketKeysAndSecondPair) {
  EXPECT_TRUE(load_yaml(std::string(kMinimal)).http.tls.ticket_keys.empty());
  Config c = load_yaml(std::string(kMinimal) +
                       "http:\n  tls:\n    certificate: /c.pem\n    key: /k.pem\n"
                       "    ticketkeys: /run/secrets/ticket.keys\n"
                       "    secondcertificate: /ec.pem\n    secondkey: /ec.key\n");
  EXPECT_EQ(c.http.tls.ticket_keys, "/run/secrets/ticket.keys");
  EXPECT_EQ(c.http.tls.second_certificate, "/ec.pem");
  EXPECT_EQ(c.http.tls.second_key, "/ec.key");
  EXPECT_EQ(
      error_of(std::string(kMinimal) + "http:\n  tls:\n    certificate: /c.pem\n    key: /k.pem\n"
                                       "    secondcertificate: /ec.pem\n"),
      "http.tls: secondcertificate and secondkey must both be set (secondkey is missing)");
  EXPECT_EQ(error_of(std::string(kMinimal) +
                     "http:\n  tls:\n    secondcertificate: /ec.pem\n    secondkey: /ec.key\n"),
            "http.tls: secondcertificate needs a certificate and key");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  tls:\n    ticketkeys: [a, b]\n"),
            "http.tls.ticketkeys: expected a string, got a list");
}

TEST(ConfigFile, DriverParametersPassThroughAsText) {
  // The driver's factory validates them (tests/unit/cli): this layer knows no driver.
  Config c = load_yaml(
      "version: 0.1\nstorage:\n  s3:\n    bucket: b\n    secure: true\n    "
      "region:\n");
  EXPECT_EQ(c.storage.driver, "s3");
  EXPECT_EQ(c.storage.parameters,
            (std::map<std::string, std::string>{{"bucket", "b"}, {"secure", "true"}}));
  EXPECT_EQ(error_of("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: [1, 2]\n"),
            "storage.filesystem.rootdirectory: expected a scalar value, got a list");
}

TEST(ConfigFile, ErrorsOfPassThroughKeysAreWordedAsLoadWordsItsOwn) {
  Config c = load_yaml(kMinimal);
  EXPECT_STREQ(c.error("storage.filesystem.rootdirectory", "must not be empty").what(),
               "storage.filesystem.rootdirectory: must not be empty");
  EXPECT_EQ(c.unknown_key_warning("storage.filesystem.x"),
            "unknown configuration key: storage.filesystem.x");
}

TEST(ConfigFile, DeprecatedLoglevelAppliesWhenLogLevelIsAbsent) {
  EXPECT_EQ(load_yaml(std::string(kMinimal) + "loglevel: debug\n").log.level, "debug");
  EXPECT_EQ(load_yaml(std::string(kMinimal) + "loglevel: debug\nlog:\n  level: error\n").log.level,
            "error");
}

TEST(ConfigFile, YamlAnchorsAndMergeKeys) {
  Config c = load_yaml(R"(version: 0.1
storage:
  filesystem:
    rootdirectory: &root /srv/r
base: &base
  addr: 127.0.0.1:6000
  prefix: s
http:
  <<: *base
  prefix: mine
)",
                       nullptr);
  EXPECT_EQ(c.http.addr, "127.0.0.1:6000");
  EXPECT_EQ(c.http.prefix, "mine");
}

TEST(ConfigFile, UnknownKeysAreWarningsNotErrors) {
  std::vector<std::string> warnings;
  Config c = load_yaml(std::string(kMinimal) +
                           "http:\n  foo: 1\n  tls:\n    bar: 2\nfrobnicate: true\n"
                           "log:\n  accesslog:\n    enabld: true\n",
                       &warnings);
  std::sort(warnings.begin(), warnings.end());
  EXPECT_EQ(warnings,
            (std::vector<std::string>{"unknown configuration key: frobnicate",
                                      "unknown configuration key: http.foo",
                                      "unknown configuration key: http.tls.bar",
                                      "unknown configuration key: log.accesslog.enabld"}));
  EXPECT_EQ(c.http.addr, ":5000");
}

// An unknown driver parameter is the driver's to judge: tests/unit/cli
// (UnknownDriverParametersWarn).

TEST(ConfigFile, RedisBlobDescriptorCacheFallsBackWithAWarning) {
  std::vector<std::string> warnings;
  Config c = load_yaml(std::string(kMinimal) + "  cache:\n    blobdescriptor: redis\n", &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("storage.cache.blobdescriptor"), std::string::npos);
}

// storage.cache keeps Distribution's meaning: unset, no cache; set, the read cache with at most
// blobdescriptorsize keys (registry/read_caching_driver.h).
TEST(ConfigFile, BlobDescriptorCacheIsOnOnlyWhenSet) {
  Config plain = load_yaml(kMinimal);
  EXPECT_EQ(plain.storage.blob_descriptor_cache, "");
  std::vector<std::string> warnings;
  Config c = load_yaml(std::string(kMinimal) +
                           "  cache:\n    blobdescriptor: inmemory\n    blobdescriptorsize: 500\n",
                       &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.storage.blob_descriptor_cache, "inmemory");
  EXPECT_EQ(c.storage.blob_descriptor_cache_size, 500u);
  EXPECT_EQ(load("", {}, nullptr).storage.blob_descriptor_cache, "inmemory");  // registry:2's
}

TEST(ConfigFileErrors, UnreadableFile) {
  TempDir dir;
  try {
    load(dir.path("missing.yml"), {}, nullptr);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(
        std::string(e.what()),
        dir.path("missing.yml") + ": cannot read configuration file: No such file or directory");
  }
  try {
    load(dir.path(""), {}, nullptr);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
}

TEST(ConfigFileErrors, MalformedYaml) {
  std::string err = error_of("version: 0.1\nhttp:\n  addr: [unclosed\n");
  EXPECT_NE(err.find("config.yml: invalid YAML at line"), std::string::npos) << err;
  EXPECT_NE(error_of("- a\n- b\n").find("expected a map of configuration keys, got a list"),
            std::string::npos);
}

// Aliases make YAML a graph: a recursive one, or lists of aliases to lists (exponential), must be
// an error naming the file, not a stack overflow or exhausted memory (found by fuzz_config).
TEST(ConfigFileErrors, RecursiveAndExplodingAliases) {
  std::string err = error_of(
      "version: 0.1\nbase: &base\n    <<: *base\nhttp: {addr: /run/onsen.sock, net: unix}\n");
  EXPECT_NE(err.find("config.yml: invalid YAML at line"), std::string::npos) << err;
  EXPECT_NE(err.find("a recursive alias?"), std::string::npos) << err;
  EXPECT_NE(error_of("version: 0.1\nx: &x [*x]\n").find("a recursive alias?"), std::string::npos);
  std::string laughs = "version: 0.1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) laughs += (j ? ", *a" : "*a") + std::to_string(i - 1);
    laughs += "]\n";
  }
  err = error_of(laughs);
  EXPECT_NE(err.find("values once aliases are expanded"), std::string::npos) << err;
}

TEST(ConfigFileErrors, Version) {
  EXPECT_EQ(error_of("version: 0.2\nstorage: inmemory\n"),
            "version: unsupported version \"0.2\" (expected \"0.1\")");
  EXPECT_EQ(error_of("storage: inmemory\n"), "version: required (expected \"0.1\")");
  EXPECT_EQ(error_of(""), "version: required (expected \"0.1\")");
  EXPECT_EQ(error_of("version: \"0.1\"\nstorage: inmemory\n"), "(no error)");
}

TEST(ConfigFileErrors, WrongTypesNameTheKey) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "  delete:\n    enabled: maybe\n"),
            "storage.delete.enabled: expected a boolean, got \"maybe\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "  maintenance:\n    uploadpurging:\n      age: 3d\n"),
            "storage.maintenance.uploadpurging.age: expected a duration such as \"30s\", \"24h\" "
            "or \"1h30m\", got \"3d\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  draintimeout: 60\n"),
            "http.draintimeout: expected a duration such as \"30s\", \"24h\" or \"1h30m\", got "
            "\"60\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  addr: [a, b]\n"),
            "http.addr: expected a string, got a list");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http: 5\n"), "http: expected a map, got \"5\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  relativeurls: \"\"\n"),
            "http.relativeurls: expected a boolean, got \"\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  headers:\n    X-A: {b: c}\n"),
            "http.headers.X-A: expected a list of strings, got a map");
}

TEST(ConfigFileErrors, InvalidValues) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "log:\n  level: verbose\n"),
            "log.level: expected one of error, warn, info, debug, got \"verbose\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "log:\n  formatter: xml\n"),
            "log.formatter: expected one of text, json, logstash, got \"xml\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  net: udp\n"),
            "http.net: expected tcp or unix, got \"udp\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  addr: localhost\n"),
            "http.addr: expected host:port (such as :5000 or 127.0.0.1:5000), got \"localhost\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  addr: \"[::1]:5000\"\n"), "(no error)");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  host: myregistry:5000\n"),
            "http.host: expected an absolute URL such as https://registry.example.com, got "
            "\"myregistry:5000\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  tls:\n    minimumtls: ssl3\n"),
            "http.tls.minimumtls: expected one of tls1.0, tls1.1, tls1.2, tls1.3, got \"ssl3\"");
  EXPECT_EQ(error_of(std::string(kMinimal) +
                     "http:\n  tls:\n    letsencrypt:\n      cachefile: /le\n      email: a@b\n"),
            "http.tls.letsencrypt: Let's Encrypt is not supported yet");
  EXPECT_EQ(
      error_of(std::string(kMinimal) + "  maintenance:\n    uploadpurging:\n      interval: 0s\n"),
      "storage.maintenance.uploadpurging.interval: must be positive when upload purging is "
      "enabled");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  draintimeout: -5s\n"),
            "http.draintimeout: expected a non-negative duration, got \"-5s\"");
}

TEST(ConfigFileErrors, TlsNeedsBothCertificateAndKey) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  tls:\n    certificate: /c.pem\n"),
            "http.tls: certificate and key must both be set (key is missing)");
  EXPECT_EQ(error_of(std::string(kMinimal) + "http:\n  tls:\n    key: /k.pem\n"),
            "http.tls: certificate and key must both be set (certificate is missing)");
}

TEST(ConfigFileErrors, Storage) {
  EXPECT_EQ(error_of("version: 0.1\n"),
            "storage: required: configure one driver (filesystem or inmemory)");
  EXPECT_EQ(error_of("version: 0.1\nstorage:\n  filesystem:\n  inmemory:\n"),
            "storage: exactly one driver must be configured, got filesystem, inmemory");
  EXPECT_EQ(error_of("version: 0.1\nstorage:\n  delete:\n    enabled: true\n"),
            "storage: no driver configured (expected filesystem or inmemory)");
}

TEST(ConfigFile, AuthToken) {
  Config c = load_yaml(std::string(kMinimal) + R"(auth:
  token:
    realm: https://auth.example.com/token
    service: registry.example.com
    issuer: auth.example.com
    rootcertbundle: /certs/bundle.pem
    jwks: /certs/jwks.json
    signingalgorithms: [RS256, EdDSA]
    autoredirect: true
)");
  ASSERT_TRUE(c.auth.token.has_value());
  EXPECT_FALSE(c.auth.htpasswd.has_value());
  EXPECT_EQ(c.auth.token->realm, "https://auth.example.com/token");
  EXPECT_EQ(c.auth.token->service, "registry.example.com");
  EXPECT_EQ(c.auth.token->issuer, "auth.example.com");
  EXPECT_EQ(c.auth.token->rootcertbundle, "/certs/bundle.pem");
  EXPECT_EQ(c.auth.token->jwks, "/certs/jwks.json");
  EXPECT_EQ(c.auth.token->signingalgorithms, (std::vector<std::string>{"RS256", "EdDSA"}));
  EXPECT_TRUE(c.auth.token->autoredirect);
  EXPECT_EQ(c.auth.token->autoredirectpath, "/auth/token");
}

TEST(ConfigFileErrors, Auth) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "auth:\n  token:\n    realm: r\n"),
            "auth.token.service: required");
  EXPECT_EQ(error_of(std::string(kMinimal) +
                     "auth:\n  token:\n    realm: r\n    service: s\n    issuer: i\n"),
            "auth.token: rootcertbundle or jwks required (the token signing keys)");
  EXPECT_EQ(error_of(std::string(kMinimal) + "auth: silly\n"),
            "auth: provider silly is not supported yet");
  EXPECT_EQ(error_of(std::string(kMinimal) +
                     "auth:\n  htpasswd:\n    realm: r\n    path: /p\n  token:\n    realm: r\n"),
            "auth: exactly one provider can be configured, got htpasswd, token");
  EXPECT_EQ(error_of(std::string(kMinimal) + "auth:\n  htpasswd:\n    path: /p\n"),
            "auth.htpasswd.realm: required");
  EXPECT_EQ(error_of(std::string(kMinimal) + "auth:\n  htpasswd:\n    realm: r\n"),
            "auth.htpasswd.path: required");
}

}  // namespace
}  // namespace onsen::config

namespace onsen::config {
namespace {

// registry:2's config.yml (the embedded defaults) checks the storage every 10s, threshold 3.
TEST(ConfigDefaults, StorageHealthCheckOn) {
  Config c = load("", {}, nullptr);
  EXPECT_TRUE(c.health.storage_enabled);
  EXPECT_EQ(c.health.storage_interval, 10s);
  EXPECT_EQ(c.health.storage_threshold, 3u);
}

TEST(ConfigFile, HealthChecks) {
  Config none = load_yaml(kMinimal);
  EXPECT_FALSE(none.health.storage_enabled);
  EXPECT_TRUE(none.health.files.empty() && none.health.http.empty() && none.health.tcp.empty());

  std::vector<std::string> warnings;
  Config c = load_yaml(std::string(kMinimal) + R"(health:
  storagedriver:
    enabled: true
    interval: 250ms
    threshold: 3
  file:
    - file: /tmp/out-of-rotation
      interval: 1s
  http:
    - uri: http://server.to.check/must/return/200
      headers:
        Authorization: [Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==]
      statuscode: 204
      timeout: 3s
      interval: 10s
      threshold: 2
  tcp:
    - addr: redis-server.domain.com:6379
      timeout: 1500us
)",
                       &warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_TRUE(c.health.storage_enabled);
  EXPECT_EQ(c.health.storage_interval, 250ms);
  EXPECT_EQ(c.health.storage_threshold, 3u);
  ASSERT_EQ(c.health.files.size(), 1u);
  EXPECT_EQ(c.health.files[0].target, "/tmp/out-of-rotation");
  EXPECT_EQ(c.health.files[0].interval, 1s);
  ASSERT_EQ(c.health.http.size(), 1u);
  const HealthCheckConfig& h = c.health.http[0];
  EXPECT_EQ(h.target, "http://server.to.check/must/return/200");
  EXPECT_EQ(h.headers.at("Authorization"),
            std::vector<std::string>{"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="});
  EXPECT_EQ(h.status_code, 204u);
  EXPECT_EQ(h.timeout, 3s);
  EXPECT_EQ(h.interval, 10s);
  EXPECT_EQ(h.threshold, 2u);
  ASSERT_EQ(c.health.tcp.size(), 1u);
  EXPECT_EQ(c.health.tcp[0].target, "redis-server.domain.com:6379");
  EXPECT_EQ(c.health.tcp[0].timeout, 2ms);   // rounded up to whole milliseconds
  EXPECT_EQ(c.health.tcp[0].interval, 0ms);  // 0: the checks' default, 10s

  const std::string base = std::string(kMinimal) + "health:\n";
  EXPECT_EQ(error_of(base + "  http:\n    - uri: ftp://x/\n"),
            "health.http.0.uri: expected an http:// or https:// URL, got \"ftp://x/\"");
  EXPECT_EQ(error_of(base + "  http:\n    - timeout: 1s\n"), "health.http.0.uri: required");
  EXPECT_EQ(error_of(base + "  http:\n    - uri: http://a/\n      statuscode: 42\n"),
            "health.http.0.statuscode: expected an HTTP status code, got \"42\"");
  EXPECT_EQ(error_of(base + "  tcp:\n    - addr: nocolon\n"),
            "health.tcp.0.addr: expected host:port, got \"nocolon\"");
  EXPECT_EQ(error_of(base + "  file:\n    - file: /a\n    - file: /a\n"),
            "health.file.1.file: \"/a\" is checked twice");
  EXPECT_EQ(error_of(base + "  storagedriver:\n    interval: soon\n"),
            "health.storagedriver.interval: expected a duration such as \"30s\", \"24h\" or "
            "\"1h30m\", got \"soon\"");
  EXPECT_EQ(error_of(base + "  file: /a\n"), "health.file: expected a list of checks, got \"/a\"");
}

}  // namespace
}  // namespace onsen::config
