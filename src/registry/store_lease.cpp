#include "registry/store_lease.h"

#include "storage/layout.h"

#include <charconv>
#include <thread>

namespace onsen::registry {

namespace {

using Clock = std::chrono::system_clock;

int64_t millis_since_epoch(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

StoreLease::StoreLease(std::shared_ptr<storage::Driver> driver, std::string owner,
                       std::chrono::milliseconds settle)
    : driver_(std::move(driver)), owner_(std::move(owner)), settle_(settle) {}

const std::string& StoreLease::key() {
  static const std::string k = std::string(storage::layout::kRoot) + "/onsen/gc-lock";
  return k;
}

// "<owner>\n<expiry in ms since the epoch>\n"; anything else counts as no lease (a torn or
// foreign object must not block collection forever).
std::optional<StoreLease::Lease> StoreLease::read() {
  auto content = driver_->get_content(key());
  if (!content) return std::nullopt;
  size_t nl = content->find('\n');
  if (nl == std::string::npos || nl == 0) return std::nullopt;
  int64_t ms = 0;
  const char* begin = content->data() + nl + 1;
  const char* end = content->data() + content->size();
  if (end > begin && end[-1] == '\n') --end;
  auto [ptr, ec] = std::from_chars(begin, end, ms);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return Lease{content->substr(0, nl), Clock::time_point(std::chrono::milliseconds(ms))};
}

void StoreLease::write(std::chrono::milliseconds ttl) {
  driver_->put_content(
      key(), owner_ + "\n" + std::to_string(millis_since_epoch(Clock::now() + ttl)) + "\n");
}

bool StoreLease::acquire(std::chrono::milliseconds ttl) {
  auto lease = read();
  if (lease && lease->owner != owner_ && lease->expiry > Clock::now()) return false;
  write(ttl);
  // Another replica may have read the same expired (or absent) lease and be writing its own:
  // the later write stands, and whoever reads back another owner's name backs off.
  std::this_thread::sleep_for(settle_);
  lease = read();
  return lease && lease->owner == owner_;
}

bool StoreLease::renew(std::chrono::milliseconds ttl) {
  auto lease = read();
  if (!lease || lease->owner != owner_) return false;
  write(ttl);
  return true;
}

void StoreLease::release() {
  auto lease = read();
  if (lease && lease->owner == owner_) driver_->remove(key());
}

std::string StoreLease::holder() {
  auto lease = read();
  return lease && lease->expiry > Clock::now() ? lease->owner : std::string();
}

}  // namespace onsen::registry
