#include "cli/gc_scheduler.h"

#include <spdlog/spdlog.h>

#include <ctime>

namespace onsen::cli {

WindowPosition window_position(std::pair<int, int> window,
                               std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  std::time_t now = system_clock::to_time_t(t);
  std::tm local{};
  localtime_r(&now, &local);
  const int minute = local.tm_hour * 60 + local.tm_min;
  const auto [start, end] = window;
  const bool open = start < end ? (minute >= start && minute < end)
                                : (minute >= start || minute < end);  // spans midnight
  WindowPosition position;
  position.open = open;
  if (open) {
    // Minutes until the end on the clock face, from the start of this minute (local minutes
    // begin with UTC's in every zone of whole-minute offset). A daylight-saving change inside the
    // window moves the end by its hour, which a stop between steps tolerates.
    const int left = (end - minute + 24 * 60) % (24 * 60);
    position.closes = floor<minutes>(t) + minutes(left);
  }
  return position;
}

registry::CollectionRequest collection_defaults(const config::GcConfig& gc) {
  registry::CollectionRequest request;
  request.dry_run = gc.dry_run;
  request.delete_untagged = gc.delete_untagged;
  request.delete_referrers = gc.delete_referrers;
  request.grace = gc.grace;
  return request;
}

GcScheduler::GcScheduler(registry::OnlineCollector& collector, const config::GcConfig& config)
    : collector_(collector), config_(config), thread_([this](std::stop_token s) { run(s); }) {}

GcScheduler::~GcScheduler() {
  thread_.request_stop();
  wake_.notify_all();
}

void GcScheduler::run(std::stop_token stop) {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, stop, config_.interval, [] { return false; }) ||
          stop.stop_requested()) {
        return;
      }
    }
    tick();
  }
}

void GcScheduler::tick() {
  registry::CollectionRequest request = collection_defaults(config_);
  request.trigger = "schedule";
  if (config_.window) {
    auto position = window_position(*config_.window, std::chrono::system_clock::now());
    if (!position.open) {
      spdlog::debug("garbage collection: outside the window, not started");
      return;
    }
    request.deadline = position.closes;
  }
  try {
    auto started = collector_.start(std::move(request));
    if (started.result == registry::OnlineCollector::Start::kRunningHere) {
      spdlog::info("garbage collection: the previous run is still going, not started");
    } else if (started.result == registry::OnlineCollector::Start::kRunningElsewhere) {
      spdlog::info("garbage collection: running on another replica ({}), not started",
                   started.holder.empty() ? "unknown" : started.holder);
    }
  } catch (const std::exception& e) {
    spdlog::warn("garbage collection: not started, the collector lock is unavailable: {}",
                 e.what());
  }
}

}  // namespace onsen::cli
