// http.debug.prometheus (Distribution's keys): off by default, the path /metrics unless set, from
// the file or REGISTRY_HTTP_DEBUG_PROMETHEUS_*; a path that is no absolute path is refused.
#include <gtest/gtest.h>

#include "load_yaml.h"

namespace onsen::config {
namespace {

constexpr const char* kDebug =
    "version: 0.1\nstorage: {inmemory: {}}\nhttp:\n  debug:\n"
    "    addr: 127.0.0.1:5001\n";

TEST(PrometheusConfig, OffByDefaultWithTheDefaultPath) {
  Config c = load_yaml(kDebug);
  EXPECT_FALSE(c.http.prometheus_enabled);
  EXPECT_EQ(c.http.prometheus_path, "/metrics");
}

TEST(PrometheusConfig, FromTheFileAndTheEnvironment) {
  Config c = load_yaml(std::string(kDebug) + "    prometheus: {enabled: true, path: /m}\n");
  EXPECT_TRUE(c.http.prometheus_enabled);
  EXPECT_EQ(c.http.prometheus_path, "/m");
  c = load_yaml(kDebug, {"REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED=true",
                         "REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH=/x/metrics"});
  EXPECT_TRUE(c.http.prometheus_enabled);
  EXPECT_EQ(c.http.prometheus_path, "/x/metrics");
}

TEST(PrometheusConfig, ErrorsNameTheKey) {
  EXPECT_EQ(error_of(std::string(kDebug) + "    prometheus: {path: metrics}\n"),
            "http.debug.prometheus.path: expected a path starting with /");
  EXPECT_NE(error_of(std::string(kDebug) + "    prometheus: {enabled: maybe}\n")
                .find("http.debug.prometheus.enabled"),
            std::string::npos);
}

}  // namespace
}  // namespace onsen::config
