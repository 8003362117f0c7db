// Internal to the transport: the bound on a socket's unsent bytes (TCP_NOTSENT_LOWAT) while a
// server sends a single file body, over plain TCP (file_sender.h) or TLS (response_writer.h).
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>

namespace onsen::http::detail {

// Counts a file body being sent in `sends` (a server's, all its connections together) for its
// lifetime.
class ActiveSend {
 public:
  explicit ActiveSend(std::atomic<unsigned>& sends) : sends_(sends) {
    sends_.fetch_add(1, std::memory_order_relaxed);
  }
  ~ActiveSend() { sends_.fetch_sub(1, std::memory_order_relaxed); }
  ActiveSend(const ActiveSend&) = delete;
  ActiveSend& operator=(const ActiveSend&) = delete;

 private:
  std::atomic<unsigned>& sends_;
};

// One connection's bound. Without a bound the socket takes up to its whole send buffer (4 MiB
// here) ahead of the receiver's window, and it is then the receiver's window updates that send
// it: over loopback (a local client, a container on the host) the client's CPU does the
// server's TCP work. A plain 1 GiB pull took 0.16 s of server CPU and 0.55 s of client CPU,
// half registry:2's rate; with 64 KiB (one loopback segment) the server sends from its own
// wake-ups: ~0.25 s each. Larger bounds (96 KiB and up) measured as badly as none. Over TLS the
// client also decrypts: with the bound curl's system time per GiB fell from ~0.35 s to ~0.15 s
// and a 1 GiB TLS pull went from 889 to 975 MB/s (medians of 9, alternating with nginx over TLS
// on the same file: 1.12x -> 1.25x nginx's rate); 128 KiB measured no better than none. It bounds
// only unsent bytes, not those in flight, so long fat links are not limited by it. Only while a
// single file body is being sent by the server: with several, every core is busy anyway and the
// extra wake-ups cost more than moving the work gains (4 parallel 1 GiB pulls: 2.5 GB/s
// bounded, 2.9 unbounded).
class UnsentBound {
 public:
  // sends: the server's count of file bodies being sent (ServerContext); outlives this.
  explicit UnsentBound(std::atomic<unsigned>& sends) : sends_(sends) {}

  std::atomic<unsigned>& sends() { return sends_; }

  // Sets or lifts the bound on fd as the number of sends in progress asks (0: the system's
  // default, no bound). A failure (a unix-domain socket has no unsent queue) changes nothing.
  void update(int fd) {
    const bool want = sends_.load(std::memory_order_relaxed) <= kBoundWhileSendsAtMost;
    if (want == bounded_) return;
    bounded_ = want;
    const int value = want ? kNotSentLowat : 0;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &value, sizeof value);
  }

 private:
  static constexpr int kNotSentLowat = 64 << 10;
  static constexpr unsigned kBoundWhileSendsAtMost = 1;

  std::atomic<unsigned>& sends_;
  bool bounded_ = false;  // TCP_NOTSENT_LOWAT set (a new socket has no bound)
};

}  // namespace onsen::http::detail
