#include "api/errors.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <array>

namespace onsen::api {

namespace {

using registry::ErrorCode;

constexpr std::array kDescriptors = {
    ErrorDescriptor{ErrorCode::kBlobUnknown, "BLOB_UNKNOWN", 404},
    ErrorDescriptor{ErrorCode::kBlobUploadInvalid, "BLOB_UPLOAD_INVALID", 400},
    ErrorDescriptor{ErrorCode::kBlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", 404},
    ErrorDescriptor{ErrorCode::kDigestInvalid, "DIGEST_INVALID", 400},
    ErrorDescriptor{ErrorCode::kManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", 400},
    ErrorDescriptor{ErrorCode::kManifestInvalid, "MANIFEST_INVALID", 400},
    ErrorDescriptor{ErrorCode::kManifestUnknown, "MANIFEST_UNKNOWN", 404},
    ErrorDescriptor{ErrorCode::kNameInvalid, "NAME_INVALID", 400},
    ErrorDescriptor{ErrorCode::kNameUnknown, "NAME_UNKNOWN", 404},
    ErrorDescriptor{ErrorCode::kSizeInvalid, "SIZE_INVALID", 400},
    ErrorDescriptor{ErrorCode::kTagInvalid, "TAG_INVALID", 400},
    ErrorDescriptor{ErrorCode::kUnauthorized, "UNAUTHORIZED", 401},
    ErrorDescriptor{ErrorCode::kDenied, "DENIED", 403},
    ErrorDescriptor{ErrorCode::kUnsupported, "UNSUPPORTED", 405},
    ErrorDescriptor{ErrorCode::kTooManyRequests, "TOOMANYREQUESTS", 429},
    // Spec codes for the non-spec conditions, the way Distribution reports them.
    ErrorDescriptor{ErrorCode::kRangeInvalid, "BLOB_UPLOAD_INVALID", 416},
    ErrorDescriptor{ErrorCode::kPaginationNumberInvalid, "PAGINATION_NUMBER_INVALID", 400},
    ErrorDescriptor{ErrorCode::kManifestTooLarge, "MANIFEST_INVALID", 413},
    ErrorDescriptor{ErrorCode::kUnavailable, "UNAVAILABLE", 503},
    ErrorDescriptor{ErrorCode::kStorageFull, "UNKNOWN", 507},
    ErrorDescriptor{ErrorCode::kInternal, "UNKNOWN", 500},
};

// descriptor_of indexes the table by the enum's value: a code added to the enum but not here (or
// out of order) fails to compile instead of answering with another code's status.
constexpr bool in_enum_order() {
  for (std::size_t i = 0; i < kDescriptors.size(); ++i) {
    if (static_cast<std::size_t>(kDescriptors[i].code) != i) return false;
  }
  return static_cast<std::size_t>(ErrorCode::kInternal) + 1 == kDescriptors.size();
}
static_assert(in_enum_order(), "kDescriptors must list every ErrorCode once, in enum order");

}  // namespace

std::span<const ErrorDescriptor> error_descriptors() {
  return kDescriptors;
}

const ErrorDescriptor& descriptor_of(ErrorCode code) {
  auto index = static_cast<std::size_t>(code);
  return index < kDescriptors.size() ? kDescriptors[index] : kDescriptors.back();
}

http::Response error_response(ErrorCode code, std::string_view message) {
  const ErrorDescriptor& d = descriptor_of(code);
  nlohmann::json error = {{"code", d.name}, {"message", message}, {"detail", nullptr}};
  http::Response res;
  res.status = d.status;
  res.headers.set("Content-Type", "application/json");
  res.body = nlohmann::json{{"errors", nlohmann::json::array({error})}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

registry::Error storage_failure(const http::Request& req, const storage::Error& e) {
  spdlog::error("storage error on {} {}: {}", req.method, req.path, e.what());
  return e.no_space() ? registry::Error(ErrorCode::kStorageFull, "storage is full")
         : e.unavailable()
             ? registry::Error(ErrorCode::kUnavailable, "storage is unavailable, retry later")
             : registry::Error(ErrorCode::kInternal, "storage error");
}

}  // namespace onsen::api
