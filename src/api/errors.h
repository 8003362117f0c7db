// The one place where registry errors become HTTP: status codes and the spec's JSON error body
// {"errors":[{"code":"...","message":"...","detail":...}]}.
#pragma once

#include "http/message.h"
#include "registry/error.h"
#include "storage/driver.h"

#include <span>
#include <string_view>

namespace onsen::api {

// How one registry::ErrorCode is reported, as Distribution's errcode.ErrorDescriptor: the spec's
// code name and the HTTP status. Several codes may share a name (conditions the spec has no code
// for are reported under the nearest one, as Distribution does), never a descriptor.
struct ErrorDescriptor {
  registry::ErrorCode code;
  std::string_view name;
  unsigned status;
};

// Every ErrorCode once, in the enum's order.
std::span<const ErrorDescriptor> error_descriptors();
const ErrorDescriptor& descriptor_of(registry::ErrorCode code);

inline unsigned status_of(registry::ErrorCode code) {
  return descriptor_of(code).status;
}
inline std::string_view code_name(registry::ErrorCode code) {
  return descriptor_of(code).name;
}

http::Response error_response(registry::ErrorCode code, std::string_view message);
inline http::Response error_response(const registry::Error& e) {
  return error_response(e.code(), e.what());
}

// A storage failure as the client sees it (507 when the store is full, 503 when it does not
// answer, else 500); logged with the request, since the client learns nothing of the cause.
registry::Error storage_failure(const http::Request& req, const storage::Error& e);

}  // namespace onsen::api
