// Distribution's health checks (the `health:` section): the storage driver, files, HTTP URLs and
// TCP addresses, each probed on a thread of its own every interval — never on an I/O thread,
// never for a request —, their outcome kept for /debug/health, readiness and the API's gate
// (cli/health_endpoints.h) to read at the cost of a lock.
//
// As registry:2 (health.PeriodicThresholdChecker): a check fails once `threshold` probes in a row
// have failed (one, for a threshold of 0 or 1), with the last probe's error, and passes again at
// its next successful probe. Unlike registry:2, which first probes one interval after start, the
// first probe runs at once, so that readiness need not wait an interval.
#pragma once

#include "config/config.h"
#include "storage/driver.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace onsen::cli {

struct HealthCheck {
  std::string name;  // the key in /debug/health's body
  // Probes once: nullopt when all is well, else what is wrong. Blocks at most about the check's
  // timeout (the storage driver's own, for the storage check).
  std::function<std::optional<std::string>()> probe;
  std::chrono::milliseconds interval{10000};
  uint64_t threshold = 1;  // failed probes in a row before the check fails
};

// The checks `health` configures, as registry:2 names them: "storagedriver_<driver name>" (a
// stat of the storage's root through `storage`, the driver beneath the registry's caches: "not
// found" is healthy, as the backend answered), the file path, the URL, the address.
std::vector<HealthCheck> configured_checks(const config::HealthConfig& health,
                                           const std::string& driver_name,
                                           std::shared_ptr<storage::Driver> storage);

// The name configured_checks gives the storage driver check.
std::string storage_check_name(const std::string& driver_name);

class HealthChecks {
 public:
  // Starts one thread per check; each probes at once, then every interval, until destruction.
  explicit HealthChecks(std::vector<HealthCheck> checks);
  ~HealthChecks();  // stops the threads (a probe under way is waited for)
  HealthChecks(const HealthChecks&) = delete;
  HealthChecks& operator=(const HealthChecks&) = delete;

  // Name -> error of every check that fails now; empty when healthy. Thread-safe.
  std::map<std::string, std::string> failing() const;
  // Whether any check fails now: one atomic load, for a gate on every request. Thread-safe.
  bool any_failing() const { return failing_count_.load(std::memory_order_relaxed) > 0; }
  // Whether the check `name` has had a successful probe since start (true when there is no such
  // check): readiness waits for the storage's first one. Thread-safe.
  bool passed_once(const std::string& name) const;

 private:
  struct State {
    HealthCheck check;
    uint64_t failures = 0;  // in a row, up to threshold
    std::string error;      // the last failed probe's
    bool passed = false;    // a probe has succeeded
  };
  void run(State& state);
  void record(State& state, std::optional<std::string> error);

  mutable std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::atomic<int> failing_count_{0};
  std::vector<std::unique_ptr<State>> states_;
  std::vector<std::thread> threads_;
};

}  // namespace onsen::cli
