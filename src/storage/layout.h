// Distribution's key scheme (registry/storage/paths.go in CNCF Distribution), so Onsen and
// registry:2 can share one storage root. Every function returns an absolute driver key.
//
//   /docker/registry/v2/blobs/<alg>/<hex[0:2]>/<hex>/data
//   /docker/registry/v2/repositories/<name>/_layers/<alg>/<hex>/link
//   /docker/registry/v2/repositories/<name>/_manifests/revisions/<alg>/<hex>/link
//   /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
//   /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link
//   /docker/registry/v2/repositories/<name>/_uploads/<uuid>/{data,startedat}
//   /docker/registry/v2/repositories/<name>/_uploads/<uuid>/hashstates/<alg>/<offset>
//
// and Onsen's own referrers index (Distribution 2.8 has no referrers API; see docs/ARCHITECTURE.md,
// "Referrers index"): one link per manifest revision whose subject is <subject>,
//
//   /docker/registry/v2/repositories/<name>/_referrers/<s-alg>/<s-hex>/<alg>/<hex>/link
//
// Inputs must already be validated (names, tags, digest parts, upload ids): this file only joins.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace onsen::storage::layout {

inline constexpr std::string_view kRoot = "/docker/registry/v2";

std::string blobs_root();
std::string blob_dir(std::string_view alg, std::string_view hex);
std::string blob_data(std::string_view alg, std::string_view hex);

std::string repositories_root();
std::string repository(std::string_view name);
std::string layer_link(std::string_view name, std::string_view alg, std::string_view hex);
std::string manifests_root(std::string_view name);
std::string revisions_root(std::string_view name);
std::string revision_link(std::string_view name, std::string_view alg, std::string_view hex);
std::string tags_dir(std::string_view name);
std::string tag_dir(std::string_view name, std::string_view tag);
std::string tag_current_link(std::string_view name, std::string_view tag);
std::string tag_index_link(std::string_view name, std::string_view tag, std::string_view alg,
                           std::string_view hex);
std::string referrers_root(std::string_view name);
std::string referrers_dir(std::string_view name, std::string_view subject_alg,
                          std::string_view subject_hex);
std::string referrer_link(std::string_view name, std::string_view subject_alg,
                          std::string_view subject_hex, std::string_view alg, std::string_view hex);
std::string uploads_dir(std::string_view name);
std::string upload_dir(std::string_view name, std::string_view uuid);
std::string upload_data(std::string_view name, std::string_view uuid);
std::string upload_started_at(std::string_view name, std::string_view uuid);
// The hash state of the upload's first `offset` bytes (decimal, as Distribution writes it).
std::string upload_hash_state(std::string_view name, std::string_view uuid, std::string_view alg,
                              uint64_t offset);
// Whether `key` is a file inside an upload's directory (<...>/_uploads/<uuid>/<file>...): its
// data or a chunk, the only keys a Writer is left open on between requests, so the only ones a
// driver that keeps unfinished writes apart (s3, see s3/writer.h) needs to look for one at.
// Repository names never have an "_uploads" component (components start alphanumeric).
bool is_upload_file(std::string_view key);

}  // namespace onsen::storage::layout
