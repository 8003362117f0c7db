// A fault-injecting HTTP proxy in front of the real gateway, on loopback: the first `failures`
// requests are answered `status` with S3's error body for `code` (503 SlowDown: throttling),
// later ones are forwarded unchanged (the Host header too, so SigV4 signatures stay valid).
#pragma once

#include <atomic>
#include <memory>
#include <string>

namespace onsen::test {

class FaultProxy {
 public:
  FaultProxy(std::string upstream_url, int failures, unsigned status, std::string code);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string endpoint() const;  // "http://127.0.0.1:<port>"
  int failed() const;            // requests answered with the fault
  int forwarded() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace onsen::test
