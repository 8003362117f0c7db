// notifications: as Distribution's configuration.Notifications, from the file and from REGISTRY_*.
#include <gtest/gtest.h>

#include "load_yaml.h"

namespace onsen::config {
namespace {

using namespace std::chrono_literals;

const std::string kBase = "version: 0.1\nstorage:\n  inmemory: {}\nhttp:\n  addr: 127.0.0.1:5000\n";

TEST(NotificationsConfig, EveryDistributionKey) {
  std::vector<std::string> warnings;
  Config c = load_yaml(kBase + R"(notifications:
  events:
    includereferences: true
  endpoints:
    - name: alistener
      disabled: false
      url: https://my.listener.com/event
      headers:
        Authorization: [Bearer <your token>]
        X-Two: [a, b]
      timeout: 1500ms
      threshold: 5
      backoff: 2s
      ignoredmediatypes:
        - application/octet-stream
      ignore:
        mediatypes:
           - application/vnd.oci.image.index.v1+json
        actions:
           - pull
    - name: off
      url: http://off.example/
      disabled: true
)",
                       {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  const NotificationsConfig& n = c.notifications;
  EXPECT_TRUE(n.include_references);
  ASSERT_EQ(n.endpoints.size(), 2u);
  const NotificationEndpointConfig& e = n.endpoints[0];
  EXPECT_EQ(e.name, "alistener");
  EXPECT_EQ(e.url, "https://my.listener.com/event");
  EXPECT_EQ(e.headers.at("Authorization"), std::vector<std::string>{"Bearer <your token>"});
  EXPECT_EQ(e.headers.at("X-Two"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(e.timeout, 1500ms);
  EXPECT_EQ(e.threshold, 5u);
  EXPECT_EQ(e.backoff, 2s);
  // Both lists of media types, merged as Distribution's endpoint does.
  EXPECT_EQ(e.ignored_media_types,
            (std::vector<std::string>{"application/octet-stream",
                                      "application/vnd.oci.image.index.v1+json"}));
  EXPECT_EQ(e.ignored_actions, std::vector<std::string>{"pull"});
  EXPECT_FALSE(e.disabled);
  EXPECT_TRUE(n.endpoints[1].disabled);
}

TEST(NotificationsConfig, ZeroTakesDistributionsDefaults) {
  Config c = load_yaml(kBase + R"(notifications:
  endpoints:
    - name: a
      url: http://127.0.0.1:1/
      timeout: 0s
      threshold: 0
      backoff: 0s
)");
  const NotificationEndpointConfig& e = c.notifications.endpoints.at(0);
  EXPECT_EQ(e.timeout, 1s);
  EXPECT_EQ(e.threshold, 10u);
  EXPECT_EQ(e.backoff, 1s);
  EXPECT_EQ(e.queue_size, 10000u);
  EXPECT_FALSE(c.notifications.include_references);
}

TEST(NotificationsConfig, EnvironmentReachesListItemsByIndex) {
  // As Distribution's parser: an index into the list, the list's length appends.
  Config c = load_yaml(kBase + R"(notifications:
  endpoints:
    - name: a
      url: http://127.0.0.1:1/
)",
                       {"REGISTRY_NOTIFICATIONS_ENDPOINTS_0_TIMEOUT=3s",
                        "REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS_AUTHORIZATION=[Bearer t]",
                        "REGISTRY_NOTIFICATIONS_ENDPOINTS_1_NAME=b",
                        "REGISTRY_NOTIFICATIONS_ENDPOINTS_1_URL=https://b.example/hook",
                        "REGISTRY_NOTIFICATIONS_EVENTS_INCLUDEREFERENCES=true"});
  ASSERT_EQ(c.notifications.endpoints.size(), 2u);
  EXPECT_EQ(c.notifications.endpoints[0].timeout, 3s);
  EXPECT_EQ(c.notifications.endpoints[0].headers.at("authorization"),
            std::vector<std::string>{"Bearer t"});
  EXPECT_EQ(c.notifications.endpoints[1].name, "b");
  EXPECT_EQ(c.notifications.endpoints[1].url, "https://b.example/hook");
  EXPECT_TRUE(c.notifications.include_references);
}

TEST(NotificationsConfig, WholeListFromOneVariable) {
  Config c = load_yaml(
      kBase, {"REGISTRY_NOTIFICATIONS_ENDPOINTS=[{name: x, url: 'http://127.0.0.1:9/e'}]"});
  ASSERT_EQ(c.notifications.endpoints.size(), 1u);
  EXPECT_EQ(c.notifications.endpoints[0].url, "http://127.0.0.1:9/e");
}

TEST(NotificationsConfig, ErrorsNameTheKeyOrVariable) {
  EXPECT_EQ(error_of(kBase + "notifications:\n  endpoints:\n    - name: a\n      url: ftp://x/\n"),
            "notifications.endpoints.0.url: expected an http:// or https:// URL, got \"ftp://x/\"");
  EXPECT_EQ(error_of(kBase + "notifications:\n  endpoints:\n    - name: a\n"),
            "notifications.endpoints.0.url: expected an http:// or https:// URL, got \"\"");
  EXPECT_EQ(error_of(kBase + "notifications:\n  endpoints:\n    - url: http://a/\n      "
                             "timeout: soon\n"),
            "notifications.endpoints.0.timeout: expected a duration such as \"30s\", \"24h\" or "
            "\"1h30m\", got \"soon\"");
  EXPECT_EQ(error_of(kBase, {"REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL=http://a/"}), "(no error)");
  EXPECT_NE(error_of(kBase, {"REGISTRY_NOTIFICATIONS_ENDPOINTS_1_URL=http://a/"})
                .find("REGISTRY_NOTIFICATIONS_ENDPOINTS_1_URL"),
            std::string::npos);
  // A disabled endpoint needs no URL (registry:2 skips it before looking).
  EXPECT_EQ(error_of(kBase + "notifications:\n  endpoints:\n    - name: a\n      disabled: true\n"),
            "(no error)");
}

TEST(NotificationsConfig, UnknownKeyWarns) {
  std::vector<std::string> warnings;
  load_yaml(kBase + "notifications:\n  endpoints:\n    - url: http://a/\n      retries: 3\n", {},
            &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "unknown configuration key: notifications.endpoints.0.retries");
}

}  // namespace
}  // namespace onsen::config
