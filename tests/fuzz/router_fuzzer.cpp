// Request routing: any path (as the server hands it over, not percent-decoded) maps to a Route
// without crashing, and the pieces it returns are consistent with the path they came from.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/router.h"
#include "fuzz_check.h"
#include "registry/digest.h"
#include "registry/names.h"

using onsen::api::Route;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view path(reinterpret_cast<const char*>(data), size);
  const Route r = onsen::api::parse_route(path);

  if (r.kind == Route::Kind::kNotFound) {
    FUZZ_CHECK(r.name.empty() && r.arg.empty());
    return 0;
  }
  FUZZ_CHECK(path.starts_with("/v2"));
  if (r.kind == Route::Kind::kBase || r.kind == Route::Kind::kCatalog) {
    FUZZ_CHECK(r.name.empty() && r.arg.empty());
    return 0;
  }
  // Registry routes: the name and the argument are path segments, so they never hold '%' (the
  // router refuses encoded paths) and the argument has no '/'; the name is a prefix of the rest.
  FUZZ_CHECK(path.find('%') == std::string_view::npos);
  FUZZ_CHECK(r.arg.find('/') == std::string::npos);
  FUZZ_CHECK(path.substr(4).starts_with(r.name));

  // What the handlers do next with the pieces (validation by the core).
  (void)onsen::registry::valid_repository_name(r.name);
  switch (r.kind) {
    case Route::Kind::kManifest:
      if (!onsen::registry::valid_tag(r.arg)) (void)onsen::registry::Digest::parse(r.arg);
      break;
    case Route::Kind::kBlob:
    case Route::Kind::kReferrers:
      (void)onsen::registry::Digest::parse(r.arg);
      break;
    case Route::Kind::kUpload:
      (void)onsen::registry::valid_upload_id(r.arg);
      break;
    default:
      FUZZ_CHECK(r.arg.empty());
      break;
  }
  return 0;
}
