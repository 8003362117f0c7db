#include "base/request_context.h"

namespace onsen::base {

namespace {
// A plain pointer: constant-initialised, so reading it costs no guard.
thread_local const std::string* current = nullptr;
}  // namespace

std::string_view current_request_id() noexcept {
  return current != nullptr ? std::string_view(*current) : std::string_view();
}

const std::string* current_request_id_source() noexcept {
  return current;
}

RequestIdScope::RequestIdScope(const std::string* id) noexcept : previous_(current) {
  current = id;
}

RequestIdScope::~RequestIdScope() {
  current = previous_;
}

}  // namespace onsen::base
