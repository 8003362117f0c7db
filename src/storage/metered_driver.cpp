#include "storage/metered_driver.h"

namespace onsen::storage {

namespace {

// Counts a call when it ends, by return or by exception.
class CallTimer {
 public:
  explicit CallTimer(MeteredDriver::OpMeter& meter)
      : meter_(meter), start_(std::chrono::steady_clock::now()) {}
  ~CallTimer() {
    meter_.latency.observe(std::chrono::steady_clock::now() - start_);
    meter_.calls.fetch_add(1, std::memory_order_relaxed);
    if (std::uncaught_exceptions() > exceptions_) {
      meter_.errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
  CallTimer(const CallTimer&) = delete;
  CallTimer& operator=(const CallTimer&) = delete;

 private:
  MeteredDriver::OpMeter& meter_;
  std::chrono::steady_clock::time_point start_;
  int exceptions_ = std::uncaught_exceptions();
};

}  // namespace

std::string_view MeteredDriver::op_name(Op op) {
  switch (op) {
    case Op::kGetContent:
      return "get_content";
    case Op::kGetContents:
      return "get_contents";
    case Op::kPutContent:
      return "put_content";
    case Op::kReader:
      return "reader";
    case Op::kWriter:
      return "writer";
    case Op::kStat:
      return "stat";
    case Op::kStats:
      return "stats";
    case Op::kList:
      return "list";
    case Op::kMove:
      return "move";
    case Op::kRemove:
      return "remove";
    case Op::kUrlFor:
      return "url_for";
    case Op::kCount:
      break;
  }
  return "other";
}

template <class F>
decltype(auto) MeteredDriver::metered(Op op, F&& f) {
  CallTimer timer(meters_[static_cast<size_t>(op)]);
  return f();
}

std::optional<std::string> MeteredDriver::get_content(const std::string& key) {
  return metered(Op::kGetContent, [&] { return target().get_content(key); });
}
void MeteredDriver::put_content(const std::string& key, std::string_view content) {
  metered(Op::kPutContent, [&] { target().put_content(key, content); });
}
void MeteredDriver::put_content_volatile(const std::string& key, std::string_view content) {
  metered(Op::kPutContent, [&] { target().put_content_volatile(key, content); });
}
std::unique_ptr<Reader> MeteredDriver::reader(const std::string& key, uint64_t offset) {
  return metered(Op::kReader, [&] { return target().reader(key, offset); });
}
std::unique_ptr<Reader> MeteredDriver::range_reader(const std::string& key, uint64_t offset,
                                                    uint64_t length) {
  return metered(Op::kReader, [&] { return target().range_reader(key, offset, length); });
}
std::unique_ptr<Writer> MeteredDriver::writer(const std::string& key, bool append) {
  return metered(Op::kWriter, [&] { return target().writer(key, append); });
}
std::unique_ptr<Writer> MeteredDriver::append_writer(const std::string& key) {
  return metered(Op::kWriter, [&] { return target().append_writer(key); });
}
std::optional<FileInfo> MeteredDriver::stat(const std::string& key) {
  return metered(Op::kStat, [&] { return target().stat(key); });
}
std::vector<std::optional<std::string>> MeteredDriver::get_contents(
    const std::vector<std::string>& keys) {
  return metered(Op::kGetContents, [&] { return target().get_contents(keys); });
}
std::vector<std::optional<FileInfo>> MeteredDriver::stats(const std::vector<std::string>& keys) {
  return metered(Op::kStats, [&] { return target().stats(keys); });
}
std::optional<std::vector<std::string>> MeteredDriver::list(const std::string& key) {
  return metered(Op::kList, [&] { return target().list(key); });
}
void MeteredDriver::move(const std::string& from, const std::string& to) {
  metered(Op::kMove, [&] { target().move(from, to); });
}
bool MeteredDriver::remove(const std::string& key) {
  return metered(Op::kRemove, [&] { return target().remove(key); });
}
std::optional<std::string> MeteredDriver::url_for(const std::string& key, std::string_view method,
                                                  std::chrono::seconds expiry) {
  return metered(Op::kUrlFor, [&] { return target().url_for(key, method, expiry); });
}

}  // namespace onsen::storage
