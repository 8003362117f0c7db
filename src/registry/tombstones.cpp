#include "registry/tombstones.h"

#include "storage/layout.h"

#include <thread>

namespace onsen::registry::tombstones {

namespace layout = storage::layout;
using Clock = std::chrono::system_clock;

std::string root() {
  return std::string(layout::kRoot) + "/onsen/doomed";
}

std::string key(const Digest& digest) {
  return root() + "/" + std::string(digest.algorithm()) + "/" + std::string(digest.hex());
}

std::vector<bool> still_stored(storage::Driver& driver, const std::vector<Digest>& digests) {
  std::vector<bool> stored(digests.size(), false);
  if (digests.empty()) return stored;
  std::vector<std::string> markers;
  for (auto& d : digests) markers.push_back(key(d));
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  for (;;) {
    auto infos = driver.stats(markers);
    std::vector<std::string> fresh;
    const auto stale = Clock::now() - kStale;
    for (auto& info : infos) {
      if (info && info->mod_time >= stale) fresh.push_back(markers[&info - infos.data()]);
    }
    if (fresh.empty() || std::chrono::steady_clock::now() >= deadline) break;
    markers = std::move(fresh);  // only those still to wait for
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::vector<std::string> data;
  for (auto& d : digests) data.push_back(layout::blob_data(d.algorithm(), d.hex()));
  auto infos = driver.stats(data);
  for (size_t i = 0; i < digests.size(); ++i) stored[i] = infos[i] && !infos[i]->is_dir;
  return stored;
}

}  // namespace onsen::registry::tombstones
