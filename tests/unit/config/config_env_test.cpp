// load() with REGISTRY_* environment overrides.
#include <gtest/gtest.h>

#include "config/config.h"
#include "support/temp_dir.h"

namespace onsen::config {
namespace {

using namespace std::chrono_literals;
using onsen::test::TempDir;

constexpr const char* kFile = R"(version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: /from/file
  delete:
    enabled: false
http:
  addr: 127.0.0.1:5000
  headers:
    X-Content-Type-Options: [nosniff]
)";

Config load_with(const std::vector<std::string>& env, std::vector<std::string>* warnings = nullptr,
                 const std::string& yaml = kFile) {
  TempDir dir;
  return load(dir.write("config.yml", yaml), env, warnings);
}

std::string error_with(const std::vector<std::string>& env, const std::string& yaml = kFile) {
  try {
    load_with(env, nullptr, yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ConfigEnv, OverridesBeatTheFile) {
  Config c = load_with({"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/somewhere",
                        "REGISTRY_STORAGE_DELETE_ENABLED=true", "REGISTRY_HTTP_ADDR=0.0.0.0:6000",
                        "REGISTRY_LOG_LEVEL=debug", "REGISTRY_STORAGE_REDIRECT_DISABLE=true"});
  EXPECT_EQ(c.storage.parameters.at("rootdirectory"), "/somewhere");
  EXPECT_TRUE(c.storage.delete_enabled);
  EXPECT_TRUE(c.storage.redirect_disabled);
  EXPECT_EQ(c.http.addr, "0.0.0.0:6000");
  EXPECT_EQ(c.log.level, "debug");
}

TEST(ConfigEnv, OverridesApplyToEmbeddedDefaults) {
  Config c =
      load("", {"REGISTRY_HTTP_ADDR=:5001", "REGISTRY_STORAGE_DELETE_ENABLED=true"}, nullptr);
  EXPECT_EQ(c.http.addr, ":5001");
  EXPECT_TRUE(c.storage.delete_enabled);
  EXPECT_EQ(c.storage.parameters.at("rootdirectory"), "/var/lib/registry");
}

TEST(ConfigEnv, UnrelatedVariablesAreIgnored) {
  std::vector<std::string> warnings;
  Config c = load_with({"PATH=/usr/bin", "HOME=/root", "REGISTRY_CONFIGURATION_PATH=/etc/x.yml",
                        "registry_http_addr=:1", "XREGISTRY_HTTP_ADDR=:2", "NOEQUALS"},
                       &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.http.addr, "127.0.0.1:5000");
}

TEST(ConfigEnv, TlsAndHttpKeys) {
  std::vector<std::string> warnings;
  Config c = load_with(
      {"REGISTRY_HTTP_TLS_CERTIFICATE=/certs/domain.crt", "REGISTRY_HTTP_TLS_KEY=/certs/domain.key",
       "REGISTRY_HTTP_TLS_MINIMUMTLS=tls1.3", "REGISTRY_HTTP_RELATIVEURLS=true",
       "REGISTRY_HTTP_HOST=https://registry.example.com", "REGISTRY_HTTP_SECRET=s3cr3t",
       "REGISTRY_HTTP_DRAINTIMEOUT=1m", "REGISTRY_HTTP_DEBUG_ADDR=localhost:5001",
       "REGISTRY_HTTP_TLS_TICKETKEYS=/run/secrets/ticket.keys",
       "REGISTRY_HTTP_TLS_SECONDCERTIFICATE=/certs/ec.crt",
       "REGISTRY_HTTP_TLS_SECONDKEY=/certs/ec.key"},
      &warnings);
  EXPECT_EQ(c.http.tls.certificate, "/certs/domain.crt");
  EXPECT_EQ(c.http.tls.ticket_keys, "/run/secrets/ticket.keys");
  EXPECT_EQ(c.http.tls.second_certificate, "/certs/ec.crt");
  EXPECT_EQ(c.http.tls.second_key, "/certs/ec.key");
  EXPECT_EQ(c.http.tls.key, "/certs/domain.key");
  EXPECT_EQ(c.http.tls.minimum_tls, "tls1.3");
  EXPECT_TRUE(c.http.relative_urls);
  EXPECT_EQ(c.http.host, "https://registry.example.com");
  EXPECT_EQ(c.http.drain_timeout, 60s);
  // http.secret: not needed, upload state lives in the storage (src/config/config.cpp).
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.http.debug_addr, "localhost:5001");
}

TEST(ConfigEnv, MaintenanceKeys) {
  Config c = load_with({"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED=false",
                        "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE=72h",
                        "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL=1h30m",
                        "REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED=true",
                        "REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR=inmemory"});
  EXPECT_FALSE(c.storage.upload_purging_enabled);
  EXPECT_EQ(c.storage.upload_purging_age, 72h);
  EXPECT_EQ(c.storage.upload_purging_interval, 90min);
  EXPECT_TRUE(c.storage.read_only);
}

TEST(ConfigEnv, PathComponentsMatchCaseInsensitively) {
  // Mixed-case components reach the same keys as Distribution's uppercase ones.
  Config c = load_with({"REGISTRY_Http_Addr=:7000", "REGISTRY_storage_Delete_enabled=on"});
  EXPECT_EQ(c.http.addr, ":7000");
  EXPECT_TRUE(c.storage.delete_enabled);

  // An existing mixed-case key (a header name) is matched and replaced, not duplicated.
  c = load_with({"REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS=[nosniff, other]"});
  ASSERT_EQ(c.http.headers.size(), 1u);
  EXPECT_EQ(c.http.headers.at("X-Content-Type-Options"),
            (std::vector<std::string>{"nosniff", "other"}));

  // A new key is created in lowercase, as Distribution does.
  c = load_with({"REGISTRY_HTTP_HEADERS_ACCESS-CONTROL-ALLOW-ORIGIN=['*']"});
  EXPECT_EQ(c.http.headers.at("access-control-allow-origin"), std::vector<std::string>{"*"});
}

TEST(ConfigEnv, ListIndices) {
  Config c = load_with({"REGISTRY_HTTP_TLS_CERTIFICATE=/c", "REGISTRY_HTTP_TLS_KEY=/k",
                        "REGISTRY_HTTP_TLS_CLIENTCAS_0=/ca0.pem",
                        "REGISTRY_HTTP_TLS_CLIENTCAS_1=/ca1.pem"});
  EXPECT_EQ(c.http.tls.client_cas, (std::vector<std::string>{"/ca0.pem", "/ca1.pem"}));

  // Index 0 of an existing list replaces that element; the next index appends.
  c = load_with({"REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS_0=changed",
                 "REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS_1=appended"});
  EXPECT_EQ(c.http.headers.at("X-Content-Type-Options"),
            (std::vector<std::string>{"changed", "appended"}));

  // A whole list as a YAML value.
  c = load_with(
      {"REGISTRY_HTTP_TLS_CERTIFICATE=/c", "REGISTRY_HTTP_TLS_KEY=/k",
       "REGISTRY_HTTP_TLS_CIPHERSUITES=[TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384]"});
  EXPECT_EQ(c.http.tls.cipher_suites,
            (std::vector<std::string>{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}));

  EXPECT_EQ(error_with({"REGISTRY_HTTP_TLS_CLIENTCAS_2=/ca.pem"}),
            "REGISTRY_HTTP_TLS_CLIENTCAS_2: undefined index 2 (http.tls.clientcas has 0 items)");
  EXPECT_EQ(error_with({"REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS_FOO=x"}),
            "REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS_FOO: http.headers.X-Content-Type-Options "
            "is a list; expected a numeric index, got FOO");
}

TEST(ConfigEnv, ValuesAreParsedAsYaml) {
  // Quotes as they arrive from a compose list entry (- REGISTRY_AUTH_HTPASSWD_REALM="Onsen
  // Registry") are YAML quotes: the value is the unquoted string, as in Distribution.
  for (const char* realm : {"\"Onsen Registry\"", "'Onsen Registry'", "Onsen Registry"}) {
    Config c =
        load_with({"REGISTRY_AUTH=htpasswd", std::string("REGISTRY_AUTH_HTPASSWD_REALM=") + realm,
                   "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd"});
    ASSERT_TRUE(c.auth.htpasswd.has_value());
    EXPECT_EQ(c.auth.htpasswd->realm, "Onsen Registry") << realm;
  }
  // A number or a boolean is fine where a string is expected: its text is used.
  Config c = load_with({"REGISTRY_HTTP_PREFIX=5000", "REGISTRY_LOG_FIELDS_DEBUG=true"});
  EXPECT_EQ(c.http.prefix, "5000");
  EXPECT_EQ(c.log.fields.at("debug"), "true");
  // Quoted booleans are accepted too.
  EXPECT_TRUE(load_with({"REGISTRY_STORAGE_DELETE_ENABLED=\"true\""}).storage.delete_enabled);
  // An empty value is null: the default.
  EXPECT_EQ(load_with({"REGISTRY_HTTP_ADDR="}).http.addr, ":5000");
  // A malformed value is an error naming the variable.
  std::string err = error_with({"REGISTRY_HTTP_SECRET=\"unterminated"});
  EXPECT_EQ(err.rfind("REGISTRY_HTTP_SECRET: invalid value", 0), 0u) << err;
  // YAML syntax in an unquoted value is called out.
  EXPECT_EQ(error_with({"REGISTRY_HTTP_ADDR=[::]:5000"}),
            "REGISTRY_HTTP_ADDR: expected a string, got a list (the value is parsed as YAML; "
            "quote it)");
  EXPECT_EQ(load_with({"REGISTRY_HTTP_ADDR=\"[::]:5000\""}).http.addr, "[::]:5000");
}

TEST(ConfigEnv, AuthHtpasswd) {
  Config c = load_with({"REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
                        "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd"});
  ASSERT_TRUE(c.auth.htpasswd.has_value());
  EXPECT_EQ(c.auth.htpasswd->realm, "Registry Realm");
  EXPECT_EQ(c.auth.htpasswd->path, "/auth/htpasswd");

  // Without REGISTRY_AUTH: the htpasswd map is created along the path.
  c = load_with({"REGISTRY_AUTH_HTPASSWD_REALM=r", "REGISTRY_AUTH_HTPASSWD_PATH=/p"});
  ASSERT_TRUE(c.auth.htpasswd.has_value());
  EXPECT_EQ(c.auth.htpasswd->path, "/p");

  // REGISTRY_AUTH replaces another provider of the file.
  std::string yaml = std::string(kFile) + "auth:\n  token:\n    realm: t\n";
  c = load_with({"REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=r",
                 "REGISTRY_AUTH_HTPASSWD_PATH=/p"},
                nullptr, yaml);
  ASSERT_TRUE(c.auth.htpasswd.has_value());

  // ... and keeps the file's settings of the same provider; the scalar file form works too.
  yaml = std::string(kFile) + "auth:\n  htpasswd:\n    realm: file-realm\n    path: /file\n";
  c = load_with({"REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_PATH=/env"}, nullptr, yaml);
  EXPECT_EQ(c.auth.htpasswd->realm, "file-realm");
  EXPECT_EQ(c.auth.htpasswd->path, "/env");
  yaml = std::string(kFile) + "auth: htpasswd\n";
  c = load_with({"REGISTRY_AUTH_HTPASSWD_REALM=r", "REGISTRY_AUTH_HTPASSWD_PATH=/p"}, nullptr,
                yaml);
  EXPECT_EQ(c.auth.htpasswd->realm, "r");

  EXPECT_EQ(error_with({"REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=r"}),
            "auth.htpasswd.path: required");
  EXPECT_EQ(error_with({"REGISTRY_AUTH=token"}), "auth.token.realm: required");
}

TEST(ConfigEnv, AuthToken) {
  // Distribution's variables, the scalar REGISTRY_AUTH selecting the provider.
  Config c = load_with(
      {"REGISTRY_AUTH=token", "REGISTRY_AUTH_TOKEN_REALM=http://127.0.0.1:5001/auth",
       "REGISTRY_AUTH_TOKEN_SERVICE=Onsen registry", "REGISTRY_AUTH_TOKEN_ISSUER=token-issuer",
       "REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE=/certs/bundle.pem",
       "REGISTRY_AUTH_TOKEN_JWKS=/certs/jwks.json",
       "REGISTRY_AUTH_TOKEN_SIGNINGALGORITHMS=[ES256, RS256]",
       "REGISTRY_AUTH_TOKEN_AUTOREDIRECT=true"});
  ASSERT_TRUE(c.auth.token.has_value());
  EXPECT_EQ(c.auth.token->realm, "http://127.0.0.1:5001/auth");
  EXPECT_EQ(c.auth.token->service, "Onsen registry");
  EXPECT_EQ(c.auth.token->issuer, "token-issuer");
  EXPECT_EQ(c.auth.token->rootcertbundle, "/certs/bundle.pem");
  EXPECT_EQ(c.auth.token->jwks, "/certs/jwks.json");
  EXPECT_EQ(c.auth.token->signingalgorithms, (std::vector<std::string>{"ES256", "RS256"}));
  EXPECT_TRUE(c.auth.token->autoredirect);

  // Without REGISTRY_AUTH the token map is created along the path; REGISTRY_AUTH=token replaces
  // the file's htpasswd.
  std::string yaml = std::string(kFile) + "auth:\n  htpasswd:\n    realm: r\n    path: /p\n";
  c = load_with(
      {"REGISTRY_AUTH=token", "REGISTRY_AUTH_TOKEN_REALM=r", "REGISTRY_AUTH_TOKEN_SERVICE=s",
       "REGISTRY_AUTH_TOKEN_ISSUER=i", "REGISTRY_AUTH_TOKEN_JWKS=/j"},
      nullptr, yaml);
  ASSERT_TRUE(c.auth.token.has_value());
  EXPECT_FALSE(c.auth.htpasswd.has_value());
  EXPECT_EQ(error_with({"REGISTRY_AUTH_TOKEN_REALM=x"}), "auth.token.service: required");
  EXPECT_EQ(error_with({"REGISTRY_AUTH=token", "REGISTRY_AUTH_TOKEN_REALM=r",
                        "REGISTRY_AUTH_TOKEN_SERVICE=s", "REGISTRY_AUTH_TOKEN_ISSUER=i"}),
            "auth.token: rootcertbundle or jwks required (the token signing keys)");
}

TEST(ConfigEnv, StorageDriverSelection) {
  // REGISTRY_STORAGE=<driver> replaces the driver and keeps delete/maintenance/cache.
  Config c = load_with({"REGISTRY_STORAGE=inmemory"});
  EXPECT_EQ(c.storage.driver, "inmemory");
  c = load_with({"REGISTRY_STORAGE=inmemory", "REGISTRY_STORAGE_DELETE_ENABLED=true"});
  EXPECT_EQ(c.storage.driver, "inmemory");
  EXPECT_TRUE(c.storage.delete_enabled);
  std::string yaml = "version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabled: true\n";
  c = load_with(
      {"REGISTRY_STORAGE=filesystem", "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/onsen"},
      nullptr, yaml);
  EXPECT_EQ(c.storage.driver, "filesystem");
  EXPECT_EQ(c.storage.parameters.at("rootdirectory"), "/var/lib/onsen");
  EXPECT_TRUE(c.storage.delete_enabled);
  // Same driver: the file's parameters stay.
  c = load_with({"REGISTRY_STORAGE=filesystem"});
  EXPECT_EQ(c.storage.parameters.at("rootdirectory"), "/from/file");

  c = load_with({"REGISTRY_STORAGE=s3", "REGISTRY_STORAGE_S3_BUCKET=b"});
  EXPECT_EQ(c.storage.driver, "s3");  // rejected by the storage layer: tests/unit/cli
  EXPECT_STREQ(c.error("storage", "driver s3 is not supported yet").what(),
               "REGISTRY_STORAGE: driver s3 is not supported yet");
  EXPECT_STREQ(c.error("storage.s3.bucket", "no such bucket").what(),
               "REGISTRY_STORAGE_S3_BUCKET: no such bucket");
  EXPECT_EQ(error_with({"REGISTRY_STORAGE_S3_BUCKET=b"}),
            "REGISTRY_STORAGE_S3_BUCKET: storage: exactly one driver must be configured, got "
            "filesystem, s3");
  EXPECT_EQ(error_with({"REGISTRY_STORAGE_INMEMORY="}),
            "REGISTRY_STORAGE_INMEMORY: storage: exactly one driver must be configured, got "
            "filesystem, inmemory");
}

TEST(ConfigEnv, AppliedInSortedOrderOfName) {
  // Given out of order: REGISTRY_STORAGE (the parent) still applies first, then its children.
  Config c = load_with({"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/sorted",
                        "REGISTRY_STORAGE_DELETE_ENABLED=true", "REGISTRY_STORAGE=filesystem"},
                       nullptr, "version: 0.1\nstorage: inmemory\n");
  EXPECT_EQ(c.storage.driver, "filesystem");
  EXPECT_EQ(c.storage.parameters.at("rootdirectory"), "/sorted");
  EXPECT_TRUE(c.storage.delete_enabled);

  // A whole section and then one key in it: the key wins, whatever the order given.
  c = load_with({"REGISTRY_HTTP_ADDR=:7001", "REGISTRY_HTTP={addr: ':7000', prefix: x}"});
  EXPECT_EQ(c.http.addr, ":7001");
  EXPECT_EQ(c.http.prefix, "x");

  // The same path spelled twice: the later name in sort order wins ("...LEVEL" < "...level").
  c = load_with({"REGISTRY_LOG_level=error", "REGISTRY_LOG_LEVEL=debug"});
  EXPECT_EQ(c.log.level, "error");
}

TEST(ConfigEnv, ErrorsNameTheVariable) {
  EXPECT_EQ(error_with({"REGISTRY_STORAGE_DELETE_ENABLED=maybe"}),
            "REGISTRY_STORAGE_DELETE_ENABLED: expected a boolean, got \"maybe\"");
  EXPECT_EQ(error_with({"REGISTRY_HTTP_DRAINTIMEOUT=soon"}),
            "REGISTRY_HTTP_DRAINTIMEOUT: expected a duration such as \"30s\", \"24h\" or "
            "\"1h30m\", got \"soon\"");
  EXPECT_EQ(error_with({"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE=1w"}),
            "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: expected a duration such as \"30s\", "
            "\"24h\" or \"1h30m\", got \"1w\"");
  EXPECT_EQ(error_with({"REGISTRY_VERSION=0.2"}),
            "REGISTRY_VERSION: unsupported version \"0.2\" (expected \"0.1\")");
  EXPECT_EQ(error_with({"REGISTRY_LOG_LEVEL=loud"}),
            "REGISTRY_LOG_LEVEL: expected one of error, warn, info, debug, got \"loud\"");
  EXPECT_EQ(error_with({"REGISTRY_HTTP_TLS_CERTIFICATE=/c.pem"}),
            "REGISTRY_HTTP_TLS_CERTIFICATE: http.tls: certificate and key must both be set (key "
            "is missing)");
  // A variable that set a whole section: the key inside it is named too.
  EXPECT_EQ(error_with({"REGISTRY_STORAGE_DELETE={enabled: perhaps}"}),
            "REGISTRY_STORAGE_DELETE: storage.delete.enabled: expected a boolean, got \"perhaps\"");
  // The same value from the file names the key.
  EXPECT_EQ(error_with({}, std::string(kFile) + "  tls:\n    certificate: /c.pem\n"),
            "http.tls: certificate and key must both be set (key is missing)");
}

TEST(ConfigEnv, UnknownKeysWarnWithTheVariable) {
  std::vector<std::string> warnings;
  Config c = load_with({"REGISTRY_HTTP_FOO=1", "REGISTRY_HTTP_ADDR=:5005"}, &warnings);
  EXPECT_EQ(warnings, std::vector<std::string>{
                          "unknown configuration key: http.foo (from REGISTRY_HTTP_FOO)"});
  EXPECT_EQ(c.http.addr, ":5005");
}

TEST(ConfigEnv, UnusableVariablesAreSkippedWithAWarning) {
  std::vector<std::string> warnings;
  Config c =
      load_with({"REGISTRY_LOG_LEVEL_X=1", "REGISTRY_HTTP__ADDR=:1", "REGISTRY_=x"}, &warnings);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.http.addr, "127.0.0.1:5000");
  EXPECT_EQ(warnings,
            (std::vector<std::string>{
                "ignoring environment variable REGISTRY_: empty path component",
                "ignoring environment variable REGISTRY_HTTP__ADDR: empty path component",
                "ignoring environment variable REGISTRY_LOG_LEVEL_X: log.level is a value, not a "
                "section"}));
}

TEST(ConfigEnv, KubernetesServiceVariablesAreNotOverrides) {
  // What Kubernetes injects for a Service named "registry".
  std::vector<std::string> warnings;
  Config c = load_with({"REGISTRY_PORT_5000_TCP_ADDR=10.0.0.7", "REGISTRY_PORT=tcp://10.0.0.7:5000",
                        "REGISTRY_PORT_5000_TCP=tcp://10.0.0.7:5000",
                        "REGISTRY_SERVICE_HOST=10.0.0.7", "REGISTRY_SERVICE_PORT=5000"},
                       &warnings);
  EXPECT_EQ(c.http.addr, "127.0.0.1:5000");
  ASSERT_EQ(warnings.size(), 5u);
  EXPECT_EQ(warnings[0], "ignoring unrecognized environment variable REGISTRY_PORT");
}

TEST(ConfigEnv, IgnoredSectionsCanBeOverridden) {
  std::vector<std::string> warnings;
  load_with({"REGISTRY_NOTIFICATIONS_EVENTS_INCLUDEREFERENCES=true", "REGISTRY_PROXY_REMOTEURL=x",
             "REGISTRY_HEALTH_STORAGEDRIVER_ENABLED=false", "REGISTRY_REDIS_ADDR=r:6379"},
            &warnings);
  EXPECT_TRUE(warnings.empty());
}

// The redis section as Distribution's, from the environment alone (the replicas of a stack).
TEST(ConfigEnv, RedisKeys) {
  std::vector<std::string> warnings;
  Config c = load_with(
      {"REGISTRY_REDIS_ADDR=redis:6379", "REGISTRY_REDIS_PASSWORD=pw", "REGISTRY_REDIS_DB=2",
       "REGISTRY_REDIS_DIALTIMEOUT=10ms", "REGISTRY_REDIS_READTIMEOUT=1s",
       "REGISTRY_REDIS_WRITETIMEOUT=2s", "REGISTRY_REDIS_POOL_MAXIDLE=16"},
      &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.redis.addr, "redis:6379");
  EXPECT_EQ(c.redis.password, "pw");
  EXPECT_EQ(c.redis.db, 2u);
  EXPECT_EQ(c.redis.dial_timeout, std::chrono::milliseconds(10));
  EXPECT_EQ(c.redis.read_timeout, std::chrono::seconds(1));
  EXPECT_EQ(c.redis.write_timeout, std::chrono::seconds(2));
  EXPECT_THROW(load_with({"REGISTRY_REDIS_TLS_ENABLED=true"}, &warnings), ConfigError);
}

}  // namespace
}  // namespace onsen::config

namespace onsen::config {
namespace {

// Distribution's rules reach the health section: nested keys, list items by index, a whole list
// as YAML.
TEST(ConfigEnv, HealthChecks) {
  Config c = load_with(
      {"REGISTRY_HEALTH_STORAGEDRIVER_ENABLED=true", "REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD=5",
       "REGISTRY_HEALTH_FILE_0_FILE=/run/drain", "REGISTRY_HEALTH_FILE_0_INTERVAL=2s",
       "REGISTRY_HEALTH_TCP=[{addr: \"127.0.0.1:6379\", timeout: 1s}]"});
  EXPECT_TRUE(c.health.storage_enabled);
  EXPECT_EQ(c.health.storage_threshold, 5u);
  ASSERT_EQ(c.health.files.size(), 1u);
  EXPECT_EQ(c.health.files[0].target, "/run/drain");
  EXPECT_EQ(c.health.files[0].interval, 2s);
  ASSERT_EQ(c.health.tcp.size(), 1u);
  EXPECT_EQ(c.health.tcp[0].target, "127.0.0.1:6379");
  EXPECT_EQ(c.health.tcp[0].timeout, 1s);
  EXPECT_EQ(error_with({"REGISTRY_HEALTH_HTTP_0_URI=nowhere"}),
            "REGISTRY_HEALTH_HTTP_0_URI: expected an http:// or https:// URL, got \"nowhere\"");
  EXPECT_EQ(error_with({"REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD=-1"}),
            "REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD: expected a non-negative integer, got \"-1\"");
}

}  // namespace
}  // namespace onsen::config
