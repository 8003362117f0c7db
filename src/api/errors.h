// The one place where registry errors become HTTP: status codes and the spec's JSON error body
// {"errors":[{"code":"...","message":"...","detail":...}]}.
#pragma once

#include "http/message.h"
#include "registry/error.h"

#include <string_view>

namespace onsen::api {

unsigned status_of(registry::ErrorCode code);
std::string_view code_name(registry::ErrorCode code);
http::Response error_response(registry::ErrorCode code, std::string_view message);
inline http::Response error_response(const registry::Error& e) {
  return error_response(e.code(), e.what());
}

}  // namespace onsen::api
