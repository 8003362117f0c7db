// A loopback HTTP peer that stalls on purpose, as an overloaded or wedged S3 gateway or webhook
// receiver does: the kernel accepts its connections, and then it answers nothing (kSilent, and
// it never reads either, so a large request fills the socket buffers), or the head of a 200 and
// part of the body before going quiet (kHeadThenStall), or a whole body slowly but steadily
// (kTrickle: a client with an idle timeout must not cut it). Connections stay open, unanswered,
// until the server is destroyed.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace onsen::test {

class StallServer {
 public:
  enum class Mode { kSilent, kHeadThenStall, kTrickle };
  struct Options {
    Mode mode = Mode::kSilent;
    // kHeadThenStall: "Content-Length: body_size", then body_sent bytes, then nothing.
    // kTrickle: body_size bytes in pieces of body_sent, one every `interval`.
    size_t body_size = 1 << 20;
    size_t body_sent = 1000;
    std::chrono::milliseconds interval{300};
  };

  explicit StallServer(Options options);
  ~StallServer();
  StallServer(const StallServer&) = delete;
  StallServer& operator=(const StallServer&) = delete;

  std::string endpoint() const;  // "http://127.0.0.1:<port>"
  int connections() const;       // accepted so far

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace onsen::test
