// Maps /v2/ request paths to the protocol area that serves them. Names may have several '/'
// components, so paths are matched from their end: the last segments say what is asked for,
// everything between /v2/ and them is the repository name (validated later, by the core).
#pragma once

#include <string>
#include <string_view>

namespace onsen::api {

struct Route {
  enum class Kind {
    kNotFound,   // not a registry path
    kBase,       // /v2/
    kCatalog,    // /v2/_catalog
    kTags,       // /v2/<name>/tags/list
    kManifest,   // /v2/<name>/manifests/<reference>
    kBlob,       // /v2/<name>/blobs/<digest>
    kUploads,    // /v2/<name>/blobs/uploads/
    kUpload,     // /v2/<name>/blobs/uploads/<id>
    kReferrers,  // /v2/<name>/referrers/<digest>
  };
  Kind kind = Kind::kNotFound;
  std::string name;  // repository name, not yet validated
  std::string arg;   // reference, digest or upload id, not yet validated
};

// path is the request path without query, not percent-decoded (no valid name, tag, digest or
// upload id contains '%', so encoded paths never match a registry route).
Route parse_route(std::string_view path);

}  // namespace onsen::api
