#include "support/stall_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace onsen::test {

struct StallServer::State {
  Options options;
  int listener = -1;
  uint16_t port = 0;
  std::atomic<int> accepted{0};
  std::mutex mutex;
  std::condition_variable stopping_cv;
  bool stopping = false;
  std::vector<int> held;  // connections kept open, unanswered
  std::list<std::thread> threads;
  std::thread acceptor;

  // Waits for `d` or the stop; false when stopping.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex);
    return !stopping_cv.wait_for(lock, d, [&] { return stopping; });
  }

  static bool send_all(int fd, const std::string& bytes) {
    for (size_t off = 0; off < bytes.size();) {
      ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until the end of a request head (the request's body, if any, is left unread).
  static bool read_head(int fd) {
    std::string got;
    char buf[4096];
    while (got.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  void serve(int fd) {
    if (options.mode == Mode::kSilent || !read_head(fd)) return;
    const std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
        std::to_string(options.body_size) + "\r\n\r\n";
    if (options.mode == Mode::kHeadThenStall) {
      send_all(fd, head + std::string(std::min(options.body_sent, options.body_size), 'x'));
      return;
    }
    if (!send_all(fd, head)) return;
    for (size_t sent = 0; sent < options.body_size; sent += options.body_sent) {
      if (!pause(options.interval)) return;
      if (!send_all(fd, std::string(std::min(options.body_sent, options.body_size - sent), 'x'))) {
        return;
      }
    }
  }

  void accept_loop() {
    for (;;) {
      pollfd pfd{listener, POLLIN, 0};
      ::poll(&pfd, 1, 100);
      {
        std::lock_guard lock(mutex);
        if (stopping) return;
      }
      if (!(pfd.revents & POLLIN)) continue;
      int fd = ::accept(listener, nullptr, nullptr);
      if (fd < 0) continue;
      ++accepted;
      std::lock_guard lock(mutex);
      held.push_back(fd);
      threads.emplace_back([this, fd] { serve(fd); });
    }
  }
};

StallServer::StallServer(Options options) : state_(std::make_unique<State>()) {
  auto& s = *state_;
  s.options = options;
  s.listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (s.listener < 0 || ::bind(s.listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(s.listener, 64) != 0 ||
      ::getsockname(s.listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (s.listener >= 0) ::close(s.listener);
    throw std::runtime_error("StallServer: cannot listen on 127.0.0.1");
  }
  s.port = ntohs(addr.sin_port);
  s.acceptor = std::thread([&s] { s.accept_loop(); });
}

StallServer::~StallServer() {
  auto& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    s.stopping = true;
    // Wakes a serve() blocked reading a head that never comes.
    for (int fd : s.held) ::shutdown(fd, SHUT_RDWR);
  }
  s.stopping_cv.notify_all();
  s.acceptor.join();
  for (auto& t : s.threads) t.join();
  for (int fd : s.held) ::close(fd);
  ::close(s.listener);
}

std::string StallServer::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(state_->port);
}

int StallServer::connections() const {
  return state_->accepted;
}

}  // namespace onsen::test
