#include "registry/catalog_cache.h"

namespace onsen::registry {

CatalogCache::CatalogCache(Walk walk, Clock::duration max_age)
    : walk_(std::move(walk)), max_age_(max_age) {}

std::shared_ptr<const NameListing> CatalogCache::get() {
  std::unique_lock lock(mutex_);
  for (;;) {
    const bool servable = names_ && !invalid_;
    if (servable && (walking_ || Clock::now() - walk_started_ < max_age_)) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      return names_;
    }
    if (!walking_) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return walk_and_publish(lock);
    }
    walked_.wait(lock, [&] { return !walking_; });  // nothing servable: wait for that walk
  }
}

std::shared_ptr<const NameListing> CatalogCache::walk_and_publish(
    std::unique_lock<std::mutex>& lock) {
  walking_ = true;
  added_while_walking_.clear();
  invalidated_while_walking_ = false;
  const auto started = Clock::now();
  std::vector<std::string> names;
  lock.unlock();
  try {
    names = walk_();
  } catch (...) {
    lock.lock();
    walking_ = false;
    walked_.notify_all();
    throw;
  }
  lock.lock();
  // The walk may have listed a directory before a concurrent write made a repository there.
  for (auto& name : added_while_walking_) names.push_back(std::move(name));
  added_while_walking_.clear();
  names_ = std::make_shared<const NameListing>(std::move(names));
  walk_started_ = started;
  // A removal during the walk may or may not be in it: serve it to this caller (the removal was
  // concurrent with its request), walk again for the next.
  invalid_ = invalidated_while_walking_;
  walking_ = false;
  walked_.notify_all();
  return names_;
}

bool CatalogCache::added(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (walking_) added_while_walking_.push_back(name);
  if (!names_) return true;
  if (names_->contains(name)) return invalid_;
  auto names = names_->names();  // copy on write: readers may hold the current list
  names.push_back(name);
  names_ = std::make_shared<const NameListing>(std::move(names));
  return true;
}

void CatalogCache::set_max_age(Clock::duration max_age) {
  std::lock_guard lock(mutex_);
  max_age_ = max_age;
}

void CatalogCache::invalidate() {
  std::lock_guard lock(mutex_);
  invalid_ = true;
  if (walking_) invalidated_while_walking_ = true;
}

}  // namespace onsen::registry
