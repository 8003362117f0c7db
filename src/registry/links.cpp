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

std::vector<Digest> list_digest_dirs(storage::Driver& driver, const std::string& root) {
  std::vector<Digest> result;
  for (std::string alg : {"sha256", "sha512"}) {
    for (auto& hex : driver.list(root + "/" + alg).value_or(std::vector<std::string>{})) {
      if (auto digest = Digest::parse(alg + ":" + hex)) result.push_back(*digest);
    }
  }
  return result;
}

}  // namespace onsen::registry
