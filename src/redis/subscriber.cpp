#include "redis/subscriber.h"

#include <spdlog/spdlog.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>

namespace onsen::redis {

Subscriber::Subscriber(Options options, std::string channel, OnMessage on_message, OnLive on_live)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      on_message_(std::move(on_message)),
      on_live_(std::move(on_live)),
      stop_fd_(eventfd(0, EFD_CLOEXEC)) {
  if (stop_fd_ < 0) throw std::runtime_error("redis: cannot create an eventfd");
  thread_ = std::thread([this] { run(); });
}

Subscriber::~Subscriber() {
  stop_ = true;
  const uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);
  thread_.join();
  close(stop_fd_);
}

bool Subscriber::wait_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
  const int n = poll(fds, fd < 0 ? 1 : 2, static_cast<int>(timeout.count()));
  return n > 0 && fd >= 0 && !stop_ && (fds[1].revents & (POLLIN | POLLHUP | POLLERR));
}

void Subscriber::run() {
  while (!stop_) {
    try {
      Connection connection(options_);
      serve(connection);
    } catch (const std::exception& e) {
      if (!warned_ && !stop_) {
        spdlog::warn("{}: listing caches fall back to their age limit until it is back", e.what());
      }
      warned_ = true;
    }
    if (stop_) return;
    on_live_(false);
    wait_readable(-1, std::chrono::seconds(1));
  }
}

void Subscriber::serve(Connection& connection) {
  if (!connection.send({"SUBSCRIBE", channel_}))
    throw std::runtime_error("redis: SUBSCRIBE failed");
  using Clock = std::chrono::steady_clock;
  auto last_traffic = Clock::now();
  bool pinged = false;
  while (!stop_) {
    bool got = true;
    while (got) {
      auto reply = connection.next_reply(got);
      if (!got) break;
      last_traffic = Clock::now();
      pinged = false;
      if (reply.size() == 3 && reply[0] == "message") {
        on_message_(reply[2]);
      } else if (reply.size() >= 2 && reply[0] == "subscribe") {
        spdlog::info("redis: subscribed to {} at {}", channel_, options_.addr);
        warned_ = false;  // the next outage is worth a warning again
        on_live_(true);
      }
    }
    const auto quiet = Clock::now() - last_traffic;
    if (quiet >= kDeadAfter) throw std::runtime_error("redis: subscription connection went silent");
    if (quiet >= kPingAfter && !pinged) {
      if (!connection.send({"PING"})) throw std::runtime_error("redis: connection broken");
      pinged = true;
    }
    if (wait_readable(connection.fd(), kPingAfter / 4) && !connection.read_available()) {
      throw std::runtime_error("redis: subscription connection broken");
    }
  }
}

}  // namespace onsen::redis
