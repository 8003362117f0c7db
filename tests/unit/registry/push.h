// Writing through a Registry in the registry layer's unit tests: a blob upload and the OCI image
// manifest that references a config and one layer (the tests' smallest valid image).
#pragma once

#include <string>

#include "registry/digest.h"
#include "registry/registry.h"

namespace onsen::test {

// Uploads content to repo (start, write, finish with its digest); returns the digest.
inline registry::Digest push_blob(registry::Registry& reg, const std::string& repo,
                                  const std::string& content) {
  auto id = reg.start_upload(repo);
  auto session = reg.open_upload(repo, id);
  session->write(content.data(), content.size());
  auto digest = registry::digest_of(content);
  session->finish(digest);
  return digest;
}

// An OCI image manifest: config (2 bytes, "{}") and one layer of layer_size bytes; `extra` is
// spliced in before the closing brace (",\"subject\":{...}").
inline std::string image_manifest(const registry::Digest& config, const registry::Digest& layer,
                                  size_t layer_size, const std::string& extra = "") {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         config.str() +
         R"(","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
         layer.str() + R"(","size":)" + std::to_string(layer_size) + "}]" + extra + "}";
}

}  // namespace onsen::test
