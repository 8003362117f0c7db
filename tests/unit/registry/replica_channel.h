// Replicas sharing their changes (registry/cache_events.h), the channel in process: what one
// Registry publishes, the other applies, through the wire form as the Redis transport carries it.
#pragma once

#include "registry/cache_events.h"
#include "registry/registry.h"

#include <gtest/gtest.h>

namespace onsen::test {

class ReplicaChannel final : public registry::ListingChangePublisher {
 public:
  registry::Registry* to = nullptr;  // null: messages lost
  void publish(const registry::ListingChange& change) override {
    auto received = registry::decode(registry::encode(change, "replica-a"));
    ASSERT_TRUE(received);
    EXPECT_EQ(received->origin, "replica-a");
    if (to) to->apply(received->change);
  }
};

}  // namespace onsen::test
