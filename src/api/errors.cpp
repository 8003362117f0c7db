#include "api/errors.h"

#include <nlohmann/json.hpp>

namespace onsen::api {

using registry::ErrorCode;

unsigned status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBlobUnknown:
      return 404;
    case ErrorCode::kBlobUploadInvalid:
      return 400;
    case ErrorCode::kBlobUploadUnknown:
      return 404;
    case ErrorCode::kDigestInvalid:
      return 400;
    case ErrorCode::kManifestBlobUnknown:
      return 400;
    case ErrorCode::kManifestInvalid:
      return 400;
    case ErrorCode::kManifestUnknown:
      return 404;
    case ErrorCode::kNameInvalid:
      return 400;
    case ErrorCode::kNameUnknown:
      return 404;
    case ErrorCode::kSizeInvalid:
      return 400;
    case ErrorCode::kTagInvalid:
      return 400;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kDenied:
      return 403;
    case ErrorCode::kUnsupported:
      return 405;
    case ErrorCode::kTooManyRequests:
      return 429;
    case ErrorCode::kRangeInvalid:
      return 416;
    case ErrorCode::kPaginationNumberInvalid:
      return 400;
    case ErrorCode::kManifestTooLarge:
      return 413;
    case ErrorCode::kStorageFull:
      return 507;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

std::string_view code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBlobUnknown:
      return "BLOB_UNKNOWN";
    case ErrorCode::kBlobUploadInvalid:
      return "BLOB_UPLOAD_INVALID";
    case ErrorCode::kBlobUploadUnknown:
      return "BLOB_UPLOAD_UNKNOWN";
    case ErrorCode::kDigestInvalid:
      return "DIGEST_INVALID";
    case ErrorCode::kManifestBlobUnknown:
      return "MANIFEST_BLOB_UNKNOWN";
    case ErrorCode::kManifestInvalid:
      return "MANIFEST_INVALID";
    case ErrorCode::kManifestUnknown:
      return "MANIFEST_UNKNOWN";
    case ErrorCode::kNameInvalid:
      return "NAME_INVALID";
    case ErrorCode::kNameUnknown:
      return "NAME_UNKNOWN";
    case ErrorCode::kSizeInvalid:
      return "SIZE_INVALID";
    case ErrorCode::kTagInvalid:
      return "TAG_INVALID";
    case ErrorCode::kUnauthorized:
      return "UNAUTHORIZED";
    case ErrorCode::kDenied:
      return "DENIED";
    case ErrorCode::kUnsupported:
      return "UNSUPPORTED";
    case ErrorCode::kTooManyRequests:
      return "TOOMANYREQUESTS";
    // Spec codes for the non-spec conditions, the way Distribution reports them.
    case ErrorCode::kRangeInvalid:
      return "BLOB_UPLOAD_INVALID";
    case ErrorCode::kPaginationNumberInvalid:
      return "PAGINATION_NUMBER_INVALID";
    case ErrorCode::kManifestTooLarge:
      return "MANIFEST_INVALID";
    case ErrorCode::kStorageFull:
      return "UNKNOWN";
    case ErrorCode::kInternal:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

http::Response error_response(ErrorCode code, std::string_view message) {
  nlohmann::json error = {{"code", code_name(code)}, {"message", message}, {"detail", nullptr}};
  http::Response res;
  res.status = status_of(code);
  res.headers.set("Content-Type", "application/json");
  res.body = nlohmann::json{{"errors", nlohmann::json::array({error})}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

}  // namespace onsen::api
