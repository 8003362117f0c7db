// HealthChecks and the probes of the configured checks (see health_checks.h).
#include "cli/health_checks.h"

#include "cli/http_request.h"

#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace onsen::cli {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr std::chrono::milliseconds kDefaultInterval{10000};  // registry:2's defaultCheckInterval

std::chrono::milliseconds interval_or_default(std::chrono::milliseconds interval) {
  return interval.count() > 0 ? interval : kDefaultInterval;
}

// A probe's timeout: the configured one, else its interval (registry:2 waits without bound; a
// probe that never ends would freeze the check's state).
std::chrono::milliseconds timeout_of(const config::HealthCheckConfig& c) {
  return c.timeout.count() > 0 ? c.timeout : interval_or_default(c.interval);
}

// Fails while the file exists (an operator's switch to take a replica out of rotation), as
// registry:2's FileChecker; a path it cannot look at is a failure too.
std::optional<std::string> probe_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return "file exists";
  if (errno == ENOENT) return std::nullopt;
  return "stat " + path + ": " + std::strerror(errno);
}

// A HEAD on a new connection; the texts are registry:2's HTTPChecker's.
std::optional<std::string> probe_http(const config::HealthCheckConfig& c) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, values] : c.headers) {
    for (const auto& value : values) headers.emplace_back(name, value);
  }
  try {
    const unsigned status = request_status("HEAD", c.target, headers, timeout_of(c), false);
    if (status != c.status_code) {
      return "downstream service returned unexpected status: " + std::to_string(status);
    }
    return std::nullopt;
  } catch (const std::exception& e) {
    spdlog::debug("health check {}: {}", c.target, e.what());
    return "error while checking: " + c.target;
  }
}

// A TCP connection opened and closed, as registry:2's TCPChecker.
std::optional<std::string> probe_tcp(const config::HealthCheckConfig& c) {
  const std::string failed = "connection to " + c.target + " failed";
  const size_t colon = c.target.rfind(':');
  std::string host = c.target.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  asio::io_context io;
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto endpoints =
      resolver.resolve(host.empty() ? "localhost" : host, c.target.substr(colon + 1), ec);
  if (ec) return failed;
  tcp::socket socket(io);
  ec = asio::error::timed_out;
  asio::async_connect(
      socket, endpoints,
      [&ec](const boost::system::error_code& result, const tcp::endpoint&) { ec = result; });
  io.run_for(timeout_of(c));
  if (ec) return failed;
  return std::nullopt;
}

HealthCheck periodic(std::string name, const config::HealthCheckConfig& c,
                     std::function<std::optional<std::string>()> probe) {
  return {std::move(name), std::move(probe), interval_or_default(c.interval),
          std::max<uint64_t>(1, c.threshold)};
}

}  // namespace

std::string storage_check_name(const std::string& driver_name) {
  return "storagedriver_" + driver_name;
}

std::vector<HealthCheck> configured_checks(const config::HealthConfig& health,
                                           const std::string& driver_name,
                                           std::shared_ptr<storage::Driver> storage) {
  std::vector<HealthCheck> checks;
  if (health.storage_enabled) {
    auto probe = [storage]() -> std::optional<std::string> {
      try {
        storage->stat("/");  // "not found" is an answer: the backend responds
        return std::nullopt;
      } catch (const std::exception& e) {
        return e.what();
      }
    };
    checks.push_back({storage_check_name(driver_name), probe,
                      interval_or_default(health.storage_interval),
                      std::max<uint64_t>(1, health.storage_threshold)});
  }
  for (const auto& c : health.files) {
    checks.push_back(periodic(c.target, c, [path = c.target] { return probe_file(path); }));
  }
  for (const auto& c : health.http) {
    checks.push_back(periodic(c.target, c, [c] { return probe_http(c); }));
  }
  for (const auto& c : health.tcp) {
    checks.push_back(periodic(c.target, c, [c] { return probe_tcp(c); }));
  }
  return checks;
}

HealthChecks::HealthChecks(std::vector<HealthCheck> checks) {
  for (auto& check : checks) {
    spdlog::info("health check {}: every {} ms, failing after {} failed probe(s) in a row",
                 check.name, check.interval.count(), check.threshold);
    states_.push_back(std::make_unique<State>());
    states_.back()->check = std::move(check);
  }
  for (auto& state : states_) threads_.emplace_back([this, s = state.get()] { run(*s); });
}

HealthChecks::~HealthChecks() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void HealthChecks::run(State& state) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    std::optional<std::string> error = state.check.probe();
    lock.lock();
    record(state, std::move(error));
    stop_cv_.wait_for(lock, state.check.interval, [this] { return stopping_; });
  }
}

// Under mutex_.
void HealthChecks::record(State& state, std::optional<std::string> error) {
  const bool was_failing = state.failures >= state.check.threshold;
  if (error) {
    if (state.failures < state.check.threshold) ++state.failures;
    state.error = std::move(*error);
  } else {
    state.failures = 0;
    state.passed = true;
  }
  const bool is_failing = state.failures >= state.check.threshold;
  if (is_failing && !was_failing) {
    failing_count_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("health check {} fails: {}", state.check.name, state.error);
  } else if (was_failing && !is_failing) {
    failing_count_.fetch_sub(1, std::memory_order_relaxed);
    spdlog::info("health check {} passes again", state.check.name);
  }
}

std::map<std::string, std::string> HealthChecks::failing() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::string> out;
  for (const auto& s : states_) {
    if (s->failures >= s->check.threshold) out[s->check.name] = s->error;
  }
  return out;
}

bool HealthChecks::passed_once(const std::string& name) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : states_) {
    if (s->check.name == name) return s->passed;
  }
  return true;
}

}  // namespace onsen::cli
