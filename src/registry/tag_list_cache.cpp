#include "registry/tag_list_cache.h"

namespace onsen::registry {

TagListCache::TagListCache(size_t max_repositories) : max_repositories_(max_repositories) {}

template <typename Keep>
std::shared_ptr<const NameListing> TagListCache::find_locked(const std::string& repo, Keep keep) {
  auto it = entries_.find(repo);
  if (it == entries_.end()) return nullptr;
  if (!keep(it->second.stamp)) {  // changed or too old: the list is of no more use
    lru_.erase(it->second.lru);
    entries_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.names;
}

std::shared_ptr<const NameListing> TagListCache::find(const std::string& repo, Time mod_time) {
  std::lock_guard lock(mutex_);
  return find_locked(repo, [&](Time stamp) { return stamp == mod_time; });
}

std::shared_ptr<const NameListing> TagListCache::find_listed_since(const std::string& repo,
                                                                   Time oldest) {
  std::lock_guard lock(mutex_);
  return find_locked(repo, [&](Time stamp) { return stamp >= oldest; });
}

uint64_t TagListCache::generation() {
  std::lock_guard lock(mutex_);
  return generation_;
}

void TagListCache::store(const std::string& repo, Time mod_time, Time now, uint64_t generation,
                         std::shared_ptr<const NameListing> names) {
  if (max_repositories_ == 0 || mod_time > now - kSettle) return;
  std::lock_guard lock(mutex_);
  if (generation == generation_) store_locked(repo, mod_time, std::move(names));
}

void TagListCache::store_listed(const std::string& repo, Time listed_at, uint64_t generation,
                                std::shared_ptr<const NameListing> names) {
  if (max_repositories_ == 0) return;
  std::lock_guard lock(mutex_);
  if (generation == generation_) store_locked(repo, listed_at, std::move(names));
}

void TagListCache::store_locked(const std::string& repo, Time stamp,
                                std::shared_ptr<const NameListing> names) {
  auto it = entries_.find(repo);
  if (it != entries_.end()) {
    it->second.stamp = stamp;
    it->second.names = std::move(names);
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  if (entries_.size() >= max_repositories_) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(repo);
  entries_.emplace(repo, Entry{stamp, std::move(names), lru_.begin()});
}

void TagListCache::invalidate(const std::string& repo) {
  std::lock_guard lock(mutex_);
  ++generation_;
  auto it = entries_.find(repo);
  if (it == entries_.end()) return;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void TagListCache::invalidate_all() {
  std::lock_guard lock(mutex_);
  ++generation_;
  entries_.clear();
  lru_.clear();
}

}  // namespace onsen::registry
