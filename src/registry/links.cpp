#include "registry/links.h"

#include "registry/staging.h"

namespace onsen::registry {

std::optional<Digest> read_link(storage::Driver& driver, const std::string& key) {
  auto content = driver.get_content(key);
  if (!content) return std::nullopt;
  return Digest::parse(*content);
}

void write_link(storage::Driver& driver, const std::string& repo, const std::string& key,
                const Digest& digest) {
  staging::put(driver, repo, key, digest.str());
}

}  // namespace onsen::registry
