#include "cli/upload_purger.h"

#include <spdlog/spdlog.h>

namespace onsen::cli {

namespace {
constexpr std::chrono::seconds kFirstPassDelay{60};
}

UploadPurger::UploadPurger(registry::Registry& registry, std::chrono::seconds age,
                           std::chrono::seconds interval, bool dry_run)
    : registry_(registry),
      age_(age),
      interval_(interval),
      dry_run_(dry_run),
      thread_([this](std::stop_token stop) { run(stop); }) {}

UploadPurger::~UploadPurger() {
  thread_.request_stop();
  wake_.notify_all();
}

void UploadPurger::run(std::stop_token stop) {
  auto delay = std::min<std::chrono::seconds>(kFirstPassDelay, interval_);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, stop, delay, [] { return false; }) || stop.stop_requested()) return;
    }
    try {
      auto cutoff = std::chrono::system_clock::now() - age_;
      size_t n = registry_.purge_uploads(cutoff, dry_run_);
      if (n > 0) {
        spdlog::info("upload purging: {} {} upload(s) older than {}s",
                     dry_run_ ? "would remove" : "removed", n, age_.count());
      }
    } catch (const std::exception& e) {
      spdlog::warn("upload purging failed: {}", e.what());
    }
    delay = interval_;
  }
}

}  // namespace onsen::cli
