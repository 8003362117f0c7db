#include "notify/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "notify/poster.h"

namespace onsen::notify {

class Notifier::Endpoint {
 public:
  explicit Endpoint(const EndpointOptions& options)
      : options_(options),
        poster_(parse_url(options.url), options.headers, options.timeout),
        thread_([this] { run(); }) {}

  ~Endpoint() {
    stop(std::chrono::milliseconds(0));
    thread_.join();
  }

  const std::string& name() const { return options_.name; }
  const EndpointCounters& counters() const { return counters_; }

  bool ignores(const Event& event) const {
    auto listed = [](const std::vector<std::string>& list, const std::string& value) {
      return std::find(list.begin(), list.end(), value) != list.end();
    };
    return listed(options_.ignored_actions, event.action) ||
           (!event.media_type.empty() && listed(options_.ignored_media_types, event.media_type));
  }

  void enqueue(const std::shared_ptr<const Event>& event) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      if (queue_.size() >= options_.queue_size) {
        counters_.dropped.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      queue_.push_back(event);
      counters_.queued.fetch_add(1, std::memory_order_relaxed);
      counters_.pending.fetch_add(1, std::memory_order_relaxed);
    }
    wake_.notify_one();
  }

  void stop(std::chrono::milliseconds drain) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      drain_until_ = std::chrono::steady_clock::now() + drain;
    }
    wake_.notify_one();
  }

 private:
  void run() {
    unsigned failures = 0;  // in a row
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;
      if (stopping_ && std::chrono::steady_clock::now() >= drain_until_) break;
      if (failures >= options_.threshold) {
        // registry:2's retrying sink: past the threshold, one attempt per backoff. A stop ends
        // the wait (and then the loop: draining stops at the first failure).
        if (stopping_) break;
        wake_.wait_for(lock, options_.backoff, [&] { return stopping_; });
        if (stopping_) break;
      }
      std::shared_ptr<const Event> event = queue_.front();
      lock.unlock();
      const bool delivered = send(*event);
      lock.lock();
      if (!delivered) {
        ++failures;
        counters_.failed.fetch_add(1, std::memory_order_relaxed);
        if (stopping_) break;
        continue;
      }
      failures = 0;
      queue_.pop_front();
      counters_.sent.fetch_add(1, std::memory_order_relaxed);
      counters_.pending.fetch_sub(1, std::memory_order_relaxed);
    }
    if (!queue_.empty()) {
      spdlog::warn("notifications: endpoint {}: {} event(s) not delivered before the stop",
                   options_.name, queue_.size());
    }
  }

  bool send(const Event& event) {
    const std::string body = R"({"events":[)" + event.json + "]}";
    try {
      unsigned status = poster_.post(kEventsMediaType, body);
      if (status >= 200 && status < 400) return true;
      spdlog::warn("notifications: endpoint {}: {} answered {}; retrying", options_.name,
                   options_.url, status);
    } catch (const PostError& e) {
      spdlog::warn("notifications: endpoint {}: {}; retrying", options_.name, e.what());
    }
    return false;
  }

  const EndpointOptions options_;
  Poster poster_;  // the thread's only
  EndpointCounters counters_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<const Event>> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_until_;
  std::thread thread_;  // last: starts once the rest is built
};

Notifier::Notifier(const std::vector<EndpointOptions>& endpoints) {
  for (const auto& options : endpoints) endpoints_.push_back(std::make_unique<Endpoint>(options));
}

Notifier::~Notifier() {
  stop();
}

void Notifier::publish(const std::shared_ptr<const Event>& event) {
  for (auto& endpoint : endpoints_) {
    if (!endpoint->ignores(*event)) endpoint->enqueue(event);
  }
}

void Notifier::stop(std::chrono::milliseconds drain) {
  for (auto& endpoint : endpoints_) endpoint->stop(drain);
}

std::vector<Notifier::EndpointView> Notifier::endpoints() const {
  std::vector<EndpointView> out;
  for (const auto& endpoint : endpoints_) out.push_back({endpoint->name(), endpoint->counters()});
  return out;
}

}  // namespace onsen::notify
