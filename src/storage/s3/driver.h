// The s3 storage driver: Distribution's s3-aws driver semantics and key scheme on any S3 endpoint
// (AWS, Ceph RGW, MinIO), so a bucket written by registry:2 is served as it is.
//
// Keys: storage key "/a/b" is object "<rootdirectory without leading '/'>/a/b". A "directory" is
// a key prefix: it exists while some object is under it, list() is a delimiter ('/') listing,
// remove() of a directory deletes every object under the prefix.
//
// Atomicity (see docs/ARCHITECTURE.md): a PUT and a completed multipart upload replace an object
// whole, so a reader sees the old bytes or the new, never a mix (a Reader is one streamed GET,
// one version). move() is a server-side copy then a delete: in between both keys hold the whole
// object, never part of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/driver.h"
#include "storage/s3/client.h"
#include "storage/s3/writer.h"

namespace onsen::storage::s3 {

struct DriverConfig {
  ClientConfig client;
  std::string root_directory;               // as configured ("/registry", "", ...)
  uint64_t chunk_size = 10 << 20;           // multipart upload part size of Writers
  size_t parts_in_flight = 4;               // parts a Writer uploads at once (writer.h)
  uint64_t copy_chunk_size = 32 << 20;      // part size of a multipart copy
  uint64_t copy_max_concurrency = 100;      // parts of one multipart copy in flight
  uint64_t copy_threshold_size = 32 << 20;  // above: multipart copy, else CopyObject
  // Up to 5 GiB, CopyObject whatever copy_threshold_size says where the store copies by
  // reference: a Ceph RGW (seen in its answers) without encryption. See copy_object().
  bool copy_by_reference = true;
};

// S3's smallest part of a multipart upload (all but the last) and largest single copy.
constexpr uint64_t kMinPartSize = 5ull << 20;
constexpr uint64_t kMaxPartSize = 5ull << 30;

class S3Driver : public Driver {
 public:
  explicit S3Driver(DriverConfig config);

  std::string name() const override { return "s3"; }
  // None: every call is a network round trip, and there are no directories to carry a mtime.
  unsigned capabilities() const override { return kPutLeavesNoDebris; }

  std::optional<std::string> get_content(const std::string& key) override;
  void put_content(const std::string& key, std::string_view content) override;
  std::unique_ptr<Reader> reader(const std::string& key, uint64_t offset) override;
  // One ranged GET of exactly [offset, offset + length).
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
  // A presigned URL (SigV4 query string) at the configured endpoint; GET and HEAD only.
  std::optional<std::string> url_for(const std::string& key, std::string_view method,
                                     std::chrono::seconds expiry) override;

  // The object key of a storage key, and the prefix of the objects under it ("" or ".../").
  std::string object_key(const std::string& key) const;
  std::string dir_prefix(const std::string& key) const;

  Client& client() { return client_; }
  const DriverConfig& config() const { return config_; }

 private:
  // Every object key under prefix (no delimiter), in pages of 1,000.
  std::vector<ObjectInfo> list_all(const std::string& prefix);
  WriterOptions writer_options() const;
  // Server-side copy of one object of `size` bytes.
  void copy_object(const std::string& from, const std::string& to, uint64_t size);

  DriverConfig config_;
  Client client_;
  std::atomic<bool> rgw_{false};  // an answer came from a Ceph RGW
};

}  // namespace onsen::storage::s3
