#include "redis/publisher.h"

#include <spdlog/spdlog.h>

namespace onsen::redis {

Publisher::Publisher(Options options, std::string channel)
    : options_(std::move(options)), channel_(std::move(channel)), thread_([this] { run(); }) {}

Publisher::~Publisher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  thread_.join();
}

void Publisher::publish(std::string message) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(message));
    ++published_;
  }
  queued_.notify_one();
}

void Publisher::flush(std::chrono::milliseconds bound) {
  std::unique_lock lock(mutex_);
  const uint64_t mine = published_;
  sent_.wait_for(lock, bound, [&] { return done_ >= mine || warned_ || stopping_; });
}

bool Publisher::send(const std::string& message) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (!connection_) connection_ = std::make_unique<Connection>(options_);
      connection_->command({"PUBLISH", channel_, message});
      if (warned_) spdlog::info("redis: publishing listing changes again");
      warned_ = false;
      return true;
    } catch (const std::exception& e) {
      connection_.reset();
      if (attempt == 1 && !warned_) {
        spdlog::warn("{}: listing changes are not reaching other replicas", e.what());
        warned_ = true;
      }
    }
  }
  return false;
}

void Publisher::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    std::string message = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const bool sent = send(message);
    lock.lock();
    ++done_;
    sent_.notify_all();
    // Stopping with Redis unreachable: each message would wait out its dial timeouts again.
    if (!sent && stopping_) {
      done_ += queue_.size();
      queue_.clear();
    }
  }
}

}  // namespace onsen::redis
