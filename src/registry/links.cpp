#include "registry/links.h"

namespace onsen::registry {

std::optional<Digest> read_link(storage::Driver& driver, const std::string& key) {
  auto content = driver.get_content(key);
  if (!content) return std::nullopt;
  return Digest::parse(*content);
}

void write_link(storage::Driver& driver, const std::string& key, const Digest& digest) {
  driver.put_content(key, digest.str());
}

}  // namespace onsen::registry
