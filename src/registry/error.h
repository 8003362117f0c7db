// Registry errors: one exception type carrying a Distribution-spec error code. The API layer turns
// it into a status and the spec's JSON body in one place (api/errors.cpp).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace onsen::registry {

enum class ErrorCode {
  kBlobUnknown,
  kBlobUploadInvalid,
  kBlobUploadUnknown,
  kDigestInvalid,
  kManifestBlobUnknown,
  kManifestInvalid,
  kManifestUnknown,
  kNameInvalid,
  kNameUnknown,
  kSizeInvalid,
  kTagInvalid,
  kUnauthorized,
  kDenied,
  kUnsupported,
  kTooManyRequests,
  kRangeInvalid,             // Content-Range out of order or overlapping (416)
  kPaginationNumberInvalid,  // bad `n` query parameter
  kManifestTooLarge,         // manifest body over the size limit (413)
  kUnavailable,              // backend unavailable, retried in vain (503)
  kStorageFull,              // backend out of space (507)
  kInternal,                 // anything else (500)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// A short, printable rendering of untrusted input for error messages: at most 72 characters,
// quotes, backslashes and control bytes replaced by '?'.
inline std::string quote_untrusted(std::string_view text) {
  constexpr size_t kMax = 72;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    char c = text[i];
    out += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
  }
  out += text.size() > kMax ? "\"..." : "\"";
  return out;
}

}  // namespace onsen::registry
