#include "storage/read_cache.h"

#include <utility>

namespace onsen::storage {

namespace {

// Bookkeeping per entry beyond its key and content: the map node, the LRU node, FileInfo.
constexpr size_t kEntryOverhead = 192;

}  // namespace

ReadCache::ReadCache(size_t max_bytes, size_t max_entries, Clock::duration max_age)
    : max_bytes_(max_bytes), max_entries_(max_entries), max_age_(max_age) {}

ReadCache::Read::Read(Read&& other) noexcept
    : cache_(std::exchange(other.cache_, nullptr)), flight_(other.flight_) {}

ReadCache::Read::~Read() {
  if (!cache_) return;
  std::lock_guard lock(cache_->mutex_);
  cache_->flights_.erase(flight_);
}

ReadCache::Read ReadCache::begin(const std::string& key) {
  std::lock_guard lock(mutex_);
  ++misses_;
  flights_.push_front(Read::Flight{key, Clock::now()});
  return Read(this, flights_.begin());
}

bool ReadCache::covers(const std::string& prefix, const std::string& key) {
  if (prefix == "/") return true;
  return key.starts_with(prefix) && (key.size() == prefix.size() || key[prefix.size()] == '/');
}

bool ReadCache::fresh(Clock::time_point read) const {
  return Clock::now() - read < max_age_.load();
}

ReadCache::Entry* ReadCache::entry_for_store(Read& read) {
  if (read.flight_->invalidated) return nullptr;
  auto [it, inserted] = entries_.try_emplace(read.flight_->key);
  if (inserted) {
    lru_.push_front(it);
    it->second.lru = lru_.begin();
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  return &it->second;
}

void ReadCache::store_stat(Read& read, const FileInfo& info) {
  std::lock_guard lock(mutex_);
  Entry* entry = entry_for_store(read);
  if (!entry) return;
  entry->info = info;
  entry->info_read = read.flight_->started;
  account(entries_.find(read.flight_->key));
}

void ReadCache::store_content(Read& read, std::string content) {
  if (content.size() > max_object_size()) return;
  std::lock_guard lock(mutex_);
  Entry* entry = entry_for_store(read);
  if (!entry) return;
  entry->content = std::move(content);
  entry->content_read = read.flight_->started;
  account(entries_.find(read.flight_->key));
}

void ReadCache::account(Entries::iterator it) {
  Entry& entry = it->second;
  bytes_ -= entry.bytes;
  entry.bytes = kEntryOverhead + it->first.size() + (entry.content ? entry.content->size() : 0);
  bytes_ += entry.bytes;
  while (!lru_.empty() && (bytes_ > max_bytes_ || entries_.size() > max_entries_)) {
    erase(lru_.back());
  }
}

void ReadCache::erase(Entries::iterator it) {
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

std::optional<FileInfo> ReadCache::stat(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || !it->second.info || !fresh(it->second.info_read)) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++hits_;
  return it->second.info;
}

std::optional<std::string> ReadCache::content(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || !it->second.content || !fresh(it->second.content_read)) {
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++hits_;
  return it->second.content;
}

void ReadCache::invalidate(const std::string& key) {
  std::lock_guard lock(mutex_);
  for (auto& flight : flights_) {
    if (covers(key, flight.key)) flight.invalidated = true;
  }
  // The keys below `key` sort after it, among others that merely start with it ("/a/b-c").
  for (auto it = entries_.lower_bound(key); it != entries_.end() && it->first.starts_with(key);) {
    auto next = std::next(it);
    if (covers(key, it->first)) erase(it);
    it = next;
  }
}

void ReadCache::clear() {
  std::lock_guard lock(mutex_);
  for (auto& flight : flights_) flight.invalidated = true;
  clear_locked_entries();
}

void ReadCache::clear_locked_entries() {
  entries_.clear();
  lru_.clear();
  bytes_ = 0;
}

ReadCache::Counters ReadCache::counters() {
  std::lock_guard lock(mutex_);
  return Counters{hits_, misses_, entries_.size(), bytes_};
}

}  // namespace onsen::storage
