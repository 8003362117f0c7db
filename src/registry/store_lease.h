// The collector lock kept as an object in the store itself (registry/collector_lock.h), for
// replicas without Redis: `<root>/docker/registry/v2/onsen/gc-lock` (outside Distribution's
// directories, which registry:2 and `onsen check` walk) holds the owner's name and the lease's
// expiry. No store has a conditional write here, so taking it is write, wait, read back: of two
// replicas taking it at once, the later write wins and the other sees it and backs off, provided
// each write is visible to the other's read within kSettle (docs/ARCHITECTURE.md says what that
// leaves).
#pragma once

#include "registry/collector_lock.h"
#include "storage/driver.h"

#include <memory>
#include <optional>
#include <string>

namespace onsen::registry {

class StoreLease final : public CollectorLock {
 public:
  // `owner`: this process's name, unique among the replicas (host, pid, random).
  StoreLease(std::shared_ptr<storage::Driver> driver, std::string owner,
             std::chrono::milliseconds settle = kSettle);

  static constexpr std::chrono::milliseconds kSettle{1000};
  static const std::string& key();

  bool acquire(std::chrono::milliseconds ttl) override;
  bool renew(std::chrono::milliseconds ttl) override;
  void release() override;
  std::string holder() override;

 private:
  struct Lease {
    std::string owner;
    std::chrono::system_clock::time_point expiry;
  };
  std::optional<Lease> read();
  void write(std::chrono::milliseconds ttl);

  std::shared_ptr<storage::Driver> driver_;
  std::string owner_;
  std::chrono::milliseconds settle_;
};

}  // namespace onsen::registry
