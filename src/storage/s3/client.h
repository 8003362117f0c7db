// The S3 operations the driver needs, on one bucket: signed (SigV4) requests over HttpClient,
// XML answers parsed with pugixml, 5xx and throttling answers retried with backoff, and every
// other failure turned into an S3Error (a storage::Error).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/driver.h"
#include "storage/s3/http_client.h"
#include "storage/s3/sigv4.h"

namespace onsen::storage::s3 {

struct ClientConfig {
  Endpoint endpoint;  // for virtual-hosted style, the bucket's own host
  Credentials credentials;
  std::string bucket;
  bool path_style = true;     // "/bucket/key" rather than "bucket.host/key"
  std::string storage_class;  // empty: none sent
  bool encrypt = false;       // server-side encryption: AES256, or aws:kms with key_id
  std::string key_id;
  std::string acl = "private";  // objectacl: the canned ACL of new objects
  std::chrono::milliseconds timeout{60000};
  int max_attempts = 5;                   // for retryable failures (network, 5xx, SlowDown)
  std::chrono::milliseconds backoff{50};  // doubled on each retry
  // Request bodies signed with their SHA-256 (else UNSIGNED-PAYLOAD). Unset: signed unless the
  // endpoint's transport protects them (Endpoint::tamper_proof); see Client::send.
  std::optional<bool> sign_payload;
};

// An answer S3 gave that the operation cannot use: the status and S3's error code.
// Status 0: no answer at all (network). A 5xx, throttling or no answer after the last retry is
// unavailable() (the registry answers 503; the client may retry).
class S3Error : public Error {
 public:
  S3Error(const std::string& what, unsigned status, std::string code)
      : Error(what), status_(status), code_(std::move(code)) {}
  struct Unavailable {};
  S3Error(const std::string& what, unsigned status, std::string code, Unavailable)
      : Error(what, Error::Unavailable{}), status_(status), code_(std::move(code)) {}
  unsigned status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  unsigned status_;
  std::string code_;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::chrono::system_clock::time_point mod_time;
  std::string etag;
  std::map<std::string, std::string> metadata;  // x-amz-meta-<name>: value, names in lowercase
  // Answered by a Ceph RADOS Gateway (its x-rgw-object-type header on HEAD and GET).
  bool rgw = false;
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> prefixes;  // common prefixes, with the trailing delimiter
  std::optional<std::string> next;    // continuation token when truncated
};

struct Part {
  int number = 0;
  std::string etag;
  uint64_t size = 0;
};

class Client {
 public:
  explicit Client(ClientConfig config);

  // The whole object; nullopt: no such key. With `info`: also its size, time and metadata.
  std::optional<std::string> get(const std::string& key, ObjectInfo* info = nullptr);
  // GET from `offset` to `last` (inclusive; none: the end), the body left to stream (a blob);
  // nullptr: no such key. total_size: the object's size. An offset at or past the end throws
  // S3Error 416.
  std::unique_ptr<HttpStream> get_stream(const std::string& key, uint64_t offset,
                                         uint64_t& total_size,
                                         std::optional<uint64_t> last = std::nullopt);
  std::optional<ObjectInfo> head(const std::string& key);
  // metadata: stored as x-amz-meta-<name> (names in lowercase).
  void put(const std::string& key, std::string_view body,
           const std::map<std::string, std::string>& metadata = {});
  void remove(const std::string& key);
  // DeleteObjects, up to 1,000 keys per request.
  void remove_many(const std::vector<std::string>& keys);
  // ListObjectsV2.
  ListPage list(const std::string& prefix, const std::string& delimiter,
                const std::optional<std::string>& continuation, int max_keys = 1000);
  // CopyObject within the bucket (objects up to 5 GiB).
  void copy(const std::string& from, const std::string& to);

  // CreateBucket; an existing bucket of ours is fine. (The driver never creates its bucket, as
  // Distribution's does not; tests and tools do.)
  void create_bucket();

  std::string create_multipart(const std::string& key);
  std::string upload_part(const std::string& key, const std::string& upload_id, int number,
                          std::string_view body);  // the part's ETag
  // A part of `size` bytes sent while they still arrive (source: HttpRequest::body_source);
  // only when streams_bodies(). Retried like any request: source must give the bytes again.
  std::string upload_part_streamed(const std::string& key, const std::string& upload_id, int number,
                                   uint64_t size,
                                   const std::function<std::string_view(uint64_t)>& source);
  // UploadPartCopy of bytes [first, last] of `from`.
  std::string upload_part_copy(const std::string& key, const std::string& upload_id, int number,
                               const std::string& from, uint64_t first, uint64_t last);
  void complete_multipart(const std::string& key, const std::string& upload_id,
                          const std::vector<Part>& parts);
  void abort_multipart(const std::string& key, const std::string& upload_id);
  // Upload ids of the pending multipart uploads of exactly `key`, oldest first.
  std::vector<std::string> multipart_uploads(const std::string& key);
  // (key, upload id) of every pending multipart upload of a key starting with `prefix`.
  std::vector<std::pair<std::string, std::string>> multipart_uploads_under(
      const std::string& prefix);
  std::vector<Part> list_parts(const std::string& key, const std::string& upload_id);

  // A presigned URL for `method` ("GET", "HEAD") on key, valid for `expiry` from now: the
  // endpoint and addressing style as configured, so it reaches the same store the driver uses.
  std::string presigned_url(const std::string& method, const std::string& key,
                            std::chrono::seconds expiry) const;

  const ClientConfig& config() const { return config_; }
  bool signs_payload() const { return sign_payload_; }
  // A body can go out before all of it is there only unsigned: its hash would need every byte.
  bool streams_bodies() const { return !sign_payload_; }

  // Bytes this client has sent in request bodies (each attempt) and had S3 copy server-side by
  // UploadPartCopy: what a write costs the gateway, for tests and diagnostics.
  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t bytes_copied() const { return bytes_copied_; }

 private:
  // The request path of key: "/bucket/key" (path style) or "/key", URI-encoded.
  std::string object_path(const std::string& key) const;
  using Query = std::multimap<std::string, std::string>;
  // Signs and sends, retrying what is safe to retry; returns any answer below 500 (and not
  // SlowDown); throws S3Error for 5xx after the last attempt.
  // With `stream`: a 2xx answer's body is left in *stream (response body empty).
  // With `source`: the body is HttpRequest::body_source's, of source_size bytes.
  HttpResponse send(const std::string& method, const std::string& key, const Query& query,
                    std::vector<std::pair<std::string, std::string>> headers,
                    std::string_view body = {}, std::unique_ptr<HttpStream>* stream = nullptr,
                    const std::function<std::string_view(uint64_t)>* source = nullptr,
                    uint64_t source_size = 0);
  HttpRequest signed_request(const std::string& method, const std::string& key, const Query& query,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             std::string_view body, const std::string& payload_hash) const;
  // send, and throws S3Error unless the status is 2xx (or in `also_ok`).
  HttpResponse expect_ok(const std::string& what, const std::string& key, HttpResponse res);
  void add_write_headers(std::vector<std::pair<std::string, std::string>>& headers,
                         bool encryption) const;
  std::string copy_source(const std::string& from) const;

  ClientConfig config_;
  HttpClient http_;
  const bool sign_payload_;
  std::atomic<uint64_t> bytes_sent_{0}, bytes_copied_{0};
};

}  // namespace onsen::storage::s3
