#include "storage/inmemory.h"

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <system_error>

namespace onsen::storage {

namespace {

using Clock = std::chrono::system_clock;

struct Object {
  std::mutex mu;
  std::string data;
  Clock::time_point mod_time = Clock::now();
};

using ObjectMap = std::map<std::string, std::shared_ptr<Object>, std::less<>>;

// The same message a filesystem error would give.
[[noreturn]] void fail(std::string_view op, const std::string& key, int err) {
  throw Error(std::string(op) + " " + key + ": " + std::generic_category().message(err),
              err == ENOSPC || err == EDQUOT);
}

void reject_root(std::string_view op, const std::string& key) {
  validate_key(key);
  if (key == "/") throw Error(std::string(op) + " /: the root is not an object");
}

std::string dir_prefix(const std::string& key) {
  return key == "/" ? key : key + "/";
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The objects under directory key, as an iterator range.
std::pair<ObjectMap::iterator, ObjectMap::iterator> children(ObjectMap& objects,
                                                             const std::string& key) {
  const std::string prefix = dir_prefix(key);
  auto first = objects.lower_bound(prefix);
  auto last = first;
  while (last != objects.end() && starts_with(last->first, prefix)) ++last;
  return {first, last};
}

bool is_dir(ObjectMap& objects, const std::string& key) {
  if (key == "/") return true;
  auto it = objects.lower_bound(dir_prefix(key));
  return it != objects.end() && starts_with(it->first, dir_prefix(key));
}

bool has_object_ancestor(const ObjectMap& objects, const std::string& key) {
  for (size_t slash = key.find('/', 1); slash != std::string::npos;
       slash = key.find('/', slash + 1)) {
    if (objects.count(std::string_view(key).substr(0, slash))) return true;
  }
  return false;
}

// Throws what a filesystem would when storing an object at key.
void check_can_store(ObjectMap& objects, std::string_view op, const std::string& key) {
  if (is_dir(objects, key)) fail(op, key, EISDIR);
  if (has_object_ancestor(objects, key)) fail(op, key, ENOTDIR);
}

}  // namespace

struct InMemoryDriver::State {
  std::mutex mu;
  ObjectMap objects;
};

namespace {

class MemoryReader final : public Reader {
 public:
  MemoryReader(std::shared_ptr<Object> object, uint64_t offset, uint64_t size)
      : object_(std::move(object)), position_(offset), size_(size) {}

  size_t read(char* buf, size_t n) override {
    std::lock_guard lock(object_->mu);
    const std::string& data = object_->data;
    if (position_ >= data.size()) return 0;
    size_t got = std::min<size_t>(n, data.size() - position_);
    std::copy_n(data.data() + position_, got, buf);
    position_ += got;
    return got;
  }
  uint64_t size() const override { return size_; }

 private:
  std::shared_ptr<Object> object_;
  uint64_t position_;
  uint64_t size_;
};

class MemoryWriter final : public Writer {
 public:
  MemoryWriter(std::shared_ptr<InMemoryDriver::State> state, std::shared_ptr<Object> object,
               std::string key, uint64_t size)
      : state_(std::move(state)), object_(std::move(object)), key_(std::move(key)), size_(size) {}

  void write(const char* buf, size_t n) override {
    require_open("write");
    std::lock_guard lock(object_->mu);
    std::string& data = object_->data;
    if (data.size() < size_) data.resize(size_);  // like pwrite(2) at our offset
    data.replace(size_, n, buf, n);
    object_->mod_time = Clock::now();
    size_ += n;
  }

  uint64_t size() const override { return size_; }

  void commit() override {
    require_open("commit");
    state_kind_ = Kind::kCommitted;
  }

  void close() override {
    if (state_kind_ == Kind::kOpen) state_kind_ = Kind::kClosed;
  }

  void cancel() override {
    if (state_kind_ == Kind::kCancelled) return;
    state_kind_ = Kind::kCancelled;
    std::lock_guard lock(state_->mu);
    if (is_dir(state_->objects, key_)) fail("cancel", key_, EISDIR);  // as unlink(2) would
    state_->objects.erase(key_);
  }

 private:
  enum class Kind { kOpen, kCommitted, kClosed, kCancelled };

  void require_open(std::string_view op) const {
    if (state_kind_ != Kind::kOpen) {
      throw Error(std::string(op) + " " + key_ + ": writer is finished");
    }
  }

  std::shared_ptr<InMemoryDriver::State> state_;
  std::shared_ptr<Object> object_;
  std::string key_;
  uint64_t size_;
  Kind state_kind_ = Kind::kOpen;
};

}  // namespace

InMemoryDriver::InMemoryDriver() : state_(std::make_shared<State>()) {}

std::optional<std::string> InMemoryDriver::get_content(const std::string& key) {
  validate_key(key);
  std::shared_ptr<Object> object;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->objects.find(key);
    if (it == state_->objects.end()) return std::nullopt;
    object = it->second;
  }
  std::lock_guard lock(object->mu);
  return object->data;
}

void InMemoryDriver::put_content(const std::string& key, std::string_view content) {
  reject_root("put_content", key);
  auto object = std::make_shared<Object>();
  object->data.assign(content);
  std::lock_guard lock(state_->mu);
  check_can_store(state_->objects, "put_content", key);
  state_->objects[key] = std::move(object);
}

std::unique_ptr<Reader> InMemoryDriver::reader(const std::string& key, uint64_t offset) {
  validate_key(key);
  std::shared_ptr<Object> object;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->objects.find(key);
    if (it == state_->objects.end()) return nullptr;
    object = it->second;
  }
  uint64_t size;
  {
    std::lock_guard lock(object->mu);
    size = object->data.size();
  }
  if (offset > size) {
    throw Error("reader " + key + ": offset " + std::to_string(offset) + " is past the end (" +
                std::to_string(size) + " bytes)");
  }
  return std::make_unique<MemoryReader>(std::move(object), offset, size);
}

std::unique_ptr<Writer> InMemoryDriver::writer(const std::string& key, bool append) {
  reject_root("writer", key);
  std::lock_guard lock(state_->mu);
  check_can_store(state_->objects, "writer", key);
  auto& slot = state_->objects[key];
  if (!slot) slot = std::make_shared<Object>();
  std::lock_guard object_lock(slot->mu);
  if (!append && !slot->data.empty()) {  // O_TRUNC: same object, emptied
    slot->data.clear();
    slot->mod_time = Clock::now();
  }
  return std::make_unique<MemoryWriter>(state_, slot, key, slot->data.size());
}

std::unique_ptr<Writer> InMemoryDriver::append_writer(const std::string& key) {
  reject_root("writer", key);
  std::lock_guard lock(state_->mu);
  auto it = state_->objects.find(key);
  if (it == state_->objects.end() || !it->second) return nullptr;
  std::lock_guard object_lock(it->second->mu);
  return std::make_unique<MemoryWriter>(state_, it->second, key, it->second->data.size());
}

std::optional<FileInfo> InMemoryDriver::stat(const std::string& key) {
  validate_key(key);
  std::lock_guard lock(state_->mu);
  FileInfo info;
  info.key = key;
  if (auto it = state_->objects.find(key); it != state_->objects.end()) {
    std::lock_guard object_lock(it->second->mu);
    info.size = it->second->data.size();
    info.mod_time = it->second->mod_time;
    return info;
  }
  auto [first, last] = children(state_->objects, key);
  if (first == last && key != "/") return std::nullopt;
  info.is_dir = true;
  for (auto it = first; it != last; ++it) {  // a directory is as new as its newest object
    std::lock_guard object_lock(it->second->mu);
    info.mod_time = std::max(info.mod_time, it->second->mod_time);
  }
  return info;
}

std::vector<std::optional<std::string>> InMemoryDriver::get_contents(
    const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> out;
  out.reserve(keys.size());
  for (auto& key : keys) out.push_back(get_content(key));
  return out;
}

std::vector<std::optional<FileInfo>> InMemoryDriver::stats(const std::vector<std::string>& keys) {
  std::vector<std::optional<FileInfo>> out;
  out.reserve(keys.size());
  for (auto& key : keys) out.push_back(stat(key));
  return out;
}

std::optional<std::vector<std::string>> InMemoryDriver::list(const std::string& key) {
  validate_key(key);
  std::lock_guard lock(state_->mu);
  auto [first, last] = children(state_->objects, key);
  if (first == last && key != "/") return std::nullopt;
  const size_t skip = dir_prefix(key).size();
  std::vector<std::string> names;
  // All keys below one child share the prefix "<dir>/<child>/", so they are adjacent in the map.
  for (auto it = first; it != last; ++it) {
    std::string name = it->first.substr(skip, it->first.find('/', skip) - skip);
    if (names.empty() || names.back() != name) names.push_back(std::move(name));
  }
  return names;
}

void InMemoryDriver::move(const std::string& from, const std::string& to) {
  reject_root("move", from);
  reject_root("move", to);
  const std::string what = from + " -> " + to;
  std::lock_guard lock(state_->mu);
  ObjectMap& objects = state_->objects;
  if (auto it = objects.find(from); it != objects.end()) {
    if (from == to) return;
    check_can_store(objects, "move " + from + " ->", to);
    auto object = it->second;
    objects.erase(it);
    objects[to] = std::move(object);
    return;
  }
  auto [first, last] = children(objects, from);
  if (first == last) throw Error("move " + what + ": source does not exist");
  if (from == to) return;
  if (starts_with(to, dir_prefix(from))) fail("move", what, EINVAL);
  if (objects.count(to) || has_object_ancestor(objects, to)) fail("move", what, ENOTDIR);
  if (is_dir(objects, to)) fail("move", what, ENOTEMPTY);
  ObjectMap moved;
  for (auto it = first; it != last; ++it)
    moved.emplace(to + it->first.substr(from.size()), it->second);
  objects.erase(first, last);
  objects.merge(moved);
}

bool InMemoryDriver::remove(const std::string& key) {
  validate_key(key);
  std::lock_guard lock(state_->mu);
  ObjectMap& objects = state_->objects;
  if (objects.erase(key)) return true;
  auto [first, last] = children(objects, key);
  if (first == last) return false;
  objects.erase(first, last);
  return true;
}

}  // namespace onsen::storage
