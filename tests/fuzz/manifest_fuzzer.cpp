// Manifest and index parsing and validation (the body of a manifest PUT, with the request's
// Content-Type). Any body either parses or is refused with Error(kManifestInvalid) — no other
// exception escapes — and an accepted manifest is self-consistent: its kind matches its media
// type, its sizes are non-negative, and serving it later (detect_media_type, which sees only the
// stored body) gives the media type it was accepted with.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "registry/error.h"
#include "registry/manifest.h"

namespace mt = onsen::registry::media_type;

namespace {

void check_descriptor(const onsen::registry::Descriptor& d) {
  FUZZ_CHECK(!d.media_type.empty());
  FUZZ_CHECK(d.size >= 0);
  FUZZ_CHECK(onsen::registry::Digest::parse(d.digest.str()).has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the Content-Type: mostly one clients send; from 18 up, the text up to the
  // first newline is the Content-Type. The rest is the body.
  static constexpr std::array<std::string_view, 9> kContentTypes = {
      "",
      mt::kDockerManifest,
      mt::kDockerManifestList,
      mt::kOciManifest,
      mt::kOciIndex,
      mt::kOciArtifact,
      "application/json",
      "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
      "APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON"};
  const uint8_t pick = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string content_type;
  if (pick < 2 * kContentTypes.size()) {
    content_type = kContentTypes[pick % kContentTypes.size()];
  } else {
    const size_t eol = rest.find('\n');
    content_type = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
  }
  const std::string body(rest);

  using namespace onsen::registry;
  const std::string served = detect_media_type(body);
  FUZZ_CHECK(!served.empty());

  Manifest m;
  try {
    m = parse_manifest(body, content_type);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == ErrorCode::kManifestInvalid);
    return 0;
  }

  FUZZ_CHECK(served == m.media_type);
  switch (m.kind) {
    case ManifestKind::kImage:
      FUZZ_CHECK(m.media_type == mt::kOciManifest || m.media_type == mt::kDockerManifest);
      FUZZ_CHECK(m.config.has_value());
      check_descriptor(*m.config);
      FUZZ_CHECK(m.manifests.empty());
      break;
    case ManifestKind::kIndex:
      FUZZ_CHECK(m.media_type == mt::kOciIndex || m.media_type == mt::kDockerManifestList);
      FUZZ_CHECK(!m.config && m.blobs.empty());
      break;
    case ManifestKind::kArtifact:
      FUZZ_CHECK(m.media_type == mt::kOciArtifact);
      FUZZ_CHECK(!m.artifact_type.empty());
      break;
  }
  for (const auto& d : m.blobs) check_descriptor(d);
  for (const auto& d : m.manifests) check_descriptor(d);
  if (m.subject) check_descriptor(*m.subject);
  return 0;
}
