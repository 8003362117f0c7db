#include "storage/layout.h"

#include <fmt/format.h>

namespace onsen::storage::layout {

std::string blobs_root() {
  return fmt::format("{}/blobs", kRoot);
}

std::string blob_dir(std::string_view alg, std::string_view hex) {
  return fmt::format("{}/blobs/{}/{}/{}", kRoot, alg, hex.substr(0, 2), hex);
}

std::string blob_data(std::string_view alg, std::string_view hex) {
  return blob_dir(alg, hex) + "/data";
}

std::string repositories_root() {
  return fmt::format("{}/repositories", kRoot);
}

std::string repository(std::string_view name) {
  return fmt::format("{}/repositories/{}", kRoot, name);
}

std::string layer_link(std::string_view name, std::string_view alg, std::string_view hex) {
  return fmt::format("{}/_layers/{}/{}/link", repository(name), alg, hex);
}

std::string manifests_root(std::string_view name) {
  return repository(name) + "/_manifests";
}

std::string revisions_root(std::string_view name) {
  return manifests_root(name) + "/revisions";
}

std::string revision_link(std::string_view name, std::string_view alg, std::string_view hex) {
  return fmt::format("{}/{}/{}/link", revisions_root(name), alg, hex);
}

std::string tags_dir(std::string_view name) {
  return manifests_root(name) + "/tags";
}

std::string tag_dir(std::string_view name, std::string_view tag) {
  return fmt::format("{}/{}", tags_dir(name), tag);
}

std::string tag_current_link(std::string_view name, std::string_view tag) {
  return tag_dir(name, tag) + "/current/link";
}

std::string tag_index_link(std::string_view name, std::string_view tag, std::string_view alg,
                           std::string_view hex) {
  return fmt::format("{}/index/{}/{}/link", tag_dir(name, tag), alg, hex);
}

std::string referrers_root(std::string_view name) {
  return repository(name) + "/_referrers";
}

std::string referrers_dir(std::string_view name, std::string_view subject_alg,
                          std::string_view subject_hex) {
  return fmt::format("{}/{}/{}", referrers_root(name), subject_alg, subject_hex);
}

std::string referrer_link(std::string_view name, std::string_view subject_alg,
                          std::string_view subject_hex, std::string_view alg,
                          std::string_view hex) {
  return fmt::format("{}/{}/{}/link", referrers_dir(name, subject_alg, subject_hex), alg, hex);
}

std::string uploads_dir(std::string_view name) {
  return repository(name) + "/_uploads";
}

std::string upload_dir(std::string_view name, std::string_view uuid) {
  return fmt::format("{}/{}", uploads_dir(name), uuid);
}

std::string upload_data(std::string_view name, std::string_view uuid) {
  return upload_dir(name, uuid) + "/data";
}

std::string upload_started_at(std::string_view name, std::string_view uuid) {
  return upload_dir(name, uuid) + "/startedat";
}

std::string upload_hash_state(std::string_view name, std::string_view uuid, std::string_view alg,
                              uint64_t offset) {
  return fmt::format("{}/hashstates/{}/{}", upload_dir(name, uuid), alg, offset);
}

bool is_upload_file(std::string_view key) {
  constexpr std::string_view kUploads = "/_uploads/";
  const size_t at = key.find(kUploads);
  if (at == std::string_view::npos) return false;
  const std::string_view rest = key.substr(at + kUploads.size());  // <uuid>/<file>...
  const size_t slash = rest.find('/');
  return slash != 0 && slash != std::string_view::npos && slash + 1 < rest.size();
}

}  // namespace onsen::storage::layout
