#include "registry/referrers_index.h"

#include "registry/links.h"
#include "storage/layout.h"

#include <algorithm>

namespace onsen::registry {

namespace layout = storage::layout;

void ReferrersIndex::add(const std::string& repo, const Digest& subject, const Digest& referrer) {
  write_link(*driver_, repo,
             layout::referrer_link(repo, subject.algorithm(), subject.hex(), referrer.algorithm(),
                                   referrer.hex()),
             referrer);
}

bool ReferrersIndex::remove(const std::string& repo, const Digest& subject,
                            const Digest& referrer) {
  auto key = layout::referrer_link(repo, subject.algorithm(), subject.hex(), referrer.algorithm(),
                                   referrer.hex());
  // The link's directory (<alg>/<hex>/) goes with it, as for _layers links.
  return driver_->remove(key.substr(0, key.size() - std::string_view("/link").size()));
}

std::vector<Digest> ReferrersIndex::list(const std::string& repo, const Digest& subject) {
  auto result =
      list_digest_dirs(*driver_, layout::referrers_dir(repo, subject.algorithm(), subject.hex()));
  std::sort(result.begin(), result.end());
  return result;
}

}  // namespace onsen::registry
