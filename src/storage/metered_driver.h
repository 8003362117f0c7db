// A driver that counts and times every call it forwards (Distribution's registry_storage_*
// metrics): per operation, the calls, the calls that threw, and a latency histogram, in atomics
// (base/latency_histogram.h), read by the metrics exporter when scraped. A reader or writer is
// timed to its opening, as in Distribution; the bytes it then moves are not.
//
// cli/storage_stack puts it right above the driver the configuration names, below the
// registry's caches: what it counts is what reached the storage.
//
// Thread-safe when the wrapped driver is.
#pragma once

#include "base/latency_histogram.h"
#include "storage/forwarding_driver.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace onsen::storage {

class MeteredDriver : public ForwardingDriver {
 public:
  // The operations counted apart (a batch, get_contents or stats, is one call).
  enum class Op : uint8_t {
    kGetContent,
    kGetContents,
    kPutContent,  // put_content and put_content_volatile
    kReader,      // reader and range_reader
    kWriter,      // writer and append_writer
    kStat,
    kStats,
    kList,
    kMove,
    kRemove,
    kUrlFor,
    kCount
  };
  static constexpr size_t kOps = static_cast<size_t>(Op::kCount);
  // The label value of op: "get_content", "put_content", "reader", ...
  static std::string_view op_name(Op op);

  struct OpMeter {
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> errors{0};  // calls that threw (a missing key is no error)
    base::LatencyHistogram latency;
  };

  explicit MeteredDriver(std::shared_ptr<Driver> target) : ForwardingDriver(std::move(target)) {}

  const OpMeter& meter(Op op) const { return meters_[static_cast<size_t>(op)]; }

  std::optional<std::string> get_content(const std::string& key) override;
  void put_content(const std::string& key, std::string_view content) override;
  void put_content_volatile(const std::string& key, std::string_view content) override;
  std::unique_ptr<Reader> reader(const std::string& key, uint64_t offset) override;
  std::unique_ptr<Reader> range_reader(const std::string& key, uint64_t offset,
                                       uint64_t length) override;
  std::unique_ptr<Writer> writer(const std::string& key, bool append) override;
  std::unique_ptr<Writer> append_writer(const std::string& key) override;
  std::optional<FileInfo> stat(const std::string& key) override;
  std::vector<std::optional<std::string>> get_contents(
      const std::vector<std::string>& keys) override;
  std::vector<std::optional<FileInfo>> stats(const std::vector<std::string>& keys) override;
  std::optional<std::vector<std::string>> list(const std::string& key) override;
  void move(const std::string& from, const std::string& to) override;
  bool remove(const std::string& key) override;
  std::optional<std::string> url_for(const std::string& key, std::string_view method,
                                     std::chrono::seconds expiry) override;

 private:
  // Calls f, counting and timing it under op.
  template <class F>
  decltype(auto) metered(Op op, F&& f);

  std::array<OpMeter, kOps> meters_;
};

}  // namespace onsen::storage
