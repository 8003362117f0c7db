// The request a thread works for, so that every log line written while serving a request carries
// its id, whichever layer writes it (api, registry, storage, auth) and whichever thread runs it.
//
// A thread-local pointer to the id. The transport sets it whenever a request's code runs: on an
// I/O thread around each resumption of the session's coroutine (http/request_executor.h: between
// two co_awaits nothing else runs there), on a blocking-pool thread around the job a request
// posted (http/blocking_pool.cpp). The log formatters (cli/logging.cpp) read it. Code that hands
// work to a thread of its own must carry the id itself (current_request_id_source + the scope).
#pragma once

#include <string>
#include <string_view>

namespace onsen::base {

// The id of the request the calling thread works for; "" when none.
std::string_view current_request_id() noexcept;

// The id's storage, to hand to another thread that works for the same request while this one
// waits (it stays valid until the request's response is written); nullptr when none.
const std::string* current_request_id_source() noexcept;

// Makes `id` (may be nullptr: none) the calling thread's current request id until destroyed, then
// restores the previous one.
class RequestIdScope {
 public:
  explicit RequestIdScope(const std::string* id) noexcept;
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;

 private:
  const std::string* previous_;
};

}  // namespace onsen::base
