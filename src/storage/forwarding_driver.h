// A driver that forwards every call to another driver (LevelDB's EnvWrapper idea): the base of
// decorators (cache invalidation, metrics, fault injection, a pull-through cache), which override
// only the calls they change and inherit the rest, so a method added to Driver is forwarded by
// every decorator at once instead of silently falling back to a default.
//
// Thread-safe when the wrapped driver is.
#pragma once

#include "storage/driver.h"

#include <memory>
#include <string>
#include <utility>

namespace onsen::storage {

class ForwardingDriver : public Driver {
 public:
  explicit ForwardingDriver(std::shared_ptr<Driver> target) : target_(std::move(target)) {}

  std::string name() const override { return target_->name(); }
  unsigned capabilities() const override { return target_->capabilities(); }
  std::optional<std::string> get_content(const std::string& key) override {
    return target_->get_content(key);
  }
  void put_content(const std::string& key, std::string_view content) override {
    target_->put_content(key, content);
  }
  void put_content_volatile(const std::string& key, std::string_view content) override {
    target_->put_content_volatile(key, content);
  }
  std::unique_ptr<Reader> reader(const std::string& key, uint64_t offset) override {
    return target_->reader(key, offset);
  }
  std::unique_ptr<Reader> range_reader(const std::string& key, uint64_t offset,
                                       uint64_t length) override {
    return target_->range_reader(key, offset, length);
  }
  std::unique_ptr<Writer> writer(const std::string& key, bool append) override {
    return target_->writer(key, append);
  }
  std::unique_ptr<Writer> append_writer(const std::string& key) override {
    return target_->append_writer(key);
  }
  std::optional<FileInfo> stat(const std::string& key) override { return target_->stat(key); }
  std::vector<std::optional<std::string>> get_contents(
      const std::vector<std::string>& keys) override {
    return target_->get_contents(keys);
  }
  std::vector<std::optional<FileInfo>> stats(const std::vector<std::string>& keys) override {
    return target_->stats(keys);
  }
  std::optional<std::vector<std::string>> list(const std::string& key) override {
    return target_->list(key);
  }
  void move(const std::string& from, const std::string& to) override { target_->move(from, to); }
  bool remove(const std::string& key) override { return target_->remove(key); }
  std::optional<std::string> url_for(const std::string& key, std::string_view method,
                                     std::chrono::seconds expiry) override {
    return target_->url_for(key, method, expiry);
  }

 protected:
  Driver& target() const { return *target_; }

 private:
  std::shared_ptr<Driver> target_;
};

}  // namespace onsen::storage
