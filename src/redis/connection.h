// A blocking connection to one Redis server, as Distribution's `redis:` section configures it
// (addr, password, db and the three timeouts). What the listing-change channel needs and no
// more: connect (AUTH, SELECT), one command at a time, and the raw socket for a subscriber that
// waits on it with poll().
//
// Not thread-safe: one owner at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct redisContext;

namespace onsen::redis {

struct Options {
  std::string addr;  // host:port ([v6]:port), or a path to a Unix socket
  std::string password;
  int64_t db = 0;
  std::chrono::milliseconds dial_timeout{5000};
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
};

class Connection {
 public:
  // Connects within dial_timeout, then AUTH and SELECT. Throws std::runtime_error.
  explicit Connection(const Options& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command (arguments binary-safe) and returns its reply as text: a status or bulk
  // string, an integer in decimal, an array's elements joined by '\n'. Throws std::runtime_error
  // on an error reply or a broken connection (the connection is then of no more use).
  std::string command(const std::vector<std::string>& args);
  // Queues a command without waiting for its reply (see next_reply); false when writing failed.
  bool send(const std::vector<std::string>& args);
  // The next complete reply already read, as the elements of an array (a non-array reply is one
  // element); empty when none is complete yet. Throws on a protocol error or an error reply.
  std::vector<std::string> next_reply(bool& got);
  // Reads what the socket holds into the reply buffer; false when the connection is broken.
  bool read_available();
  int fd() const;

 private:
  redisContext* context_;
};

}  // namespace onsen::redis
