#include "storage/s3/client.h"

#include <openssl/evp.h>

#include <spdlog/spdlog.h>

#include <pugixml.hpp>
#include <random>
#include <thread>

namespace onsen::storage::s3 {
namespace {

pugi::xml_document parse_xml(const std::string& body, const std::string& what) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) {
    throw S3Error("s3: " + what + ": unreadable XML answer", 0, "");
  }
  return doc;
}

std::chrono::system_clock::time_point parse_time(const char* iso) {
  // "2026-12-03T15:56:22.123Z"
  std::tm tm{};
  if (!strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm)) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string md5_base64(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_md5(), nullptr);
  return base64(out, len);
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// S3's error code from an error body (<Error><Code>NoSuchKey</Code>...), empty when none.
std::string error_code(const HttpResponse& res) {
  if (res.body.empty()) return {};
  pugi::xml_document doc;
  if (!doc.load_buffer(res.body.data(), res.body.size())) return {};
  return doc.child("Error").child_value("Code");
}

bool retryable(const HttpResponse& res) {
  return res.status >= 500 || error_code(res) == "SlowDown";
}

}  // namespace

Client::Client(ClientConfig config)
    : config_(std::move(config)),
      http_(config_.endpoint, config_.timeout),
      sign_payload_(config_.sign_payload.value_or(!config_.endpoint.tamper_proof())) {}

std::string Client::object_path(const std::string& key) const {
  std::string path = "/";
  if (config_.path_style) path += uri_encode(config_.bucket, true) + (key.empty() ? "" : "/");
  return path + uri_encode(key, false);
}

std::string Client::presigned_url(const std::string& method, const std::string& key,
                                  std::chrono::seconds expiry) const {
  const Endpoint& e = http_.endpoint();
  const std::string path = object_path(key);
  return (e.https ? "https://" : "http://") + e.host_header() + path + "?" +
         presigned_query(config_.credentials, method, path, e.host_header(), amz_date_now(),
                         static_cast<uint64_t>(expiry.count()));
}

HttpRequest Client::signed_request(const std::string& method, const std::string& key,
                                   const Query& query,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   std::string_view body, const std::string& payload_hash) const {
  const std::string path = object_path(key);
  const std::string date = amz_date_now();
  SigningInput in{method, path, &query, {}, payload_hash, date};
  in.headers["host"] = http_.endpoint().host_header();
  in.headers["x-amz-date"] = date;
  in.headers["x-amz-content-sha256"] = payload_hash;
  const std::string& token = config_.credentials.session_token;
  if (!token.empty()) in.headers["x-amz-security-token"] = token;
  for (const auto& [name, value] : headers) in.headers[name] = value;

  HttpRequest req;
  req.method = method;
  std::string qs = canonical_query(query);
  req.target = qs.empty() ? path : path + "?" + qs;
  for (const auto& [name, value] : in.headers) {
    if (name != "host") req.headers.emplace_back(name, value);
  }
  req.headers.emplace_back("Authorization", authorization(config_.credentials, in));
  req.body = body;
  return req;
}

HttpResponse Client::send(const std::string& method, const std::string& key, const Query& query,
                          std::vector<std::pair<std::string, std::string>> headers,
                          std::string_view body, std::unique_ptr<HttpStream>* stream,
                          const std::function<std::string_view(uint64_t)>* source,
                          uint64_t source_size) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  // The payload's hash protects the body on its way to S3. Where the transport already does
  // (Endpoint::tamper_proof), it is a second SHA-256 pass over every byte pushed here and a third
  // at the gateway, which checks it: UNSIGNED-PAYLOAD, as AWS's SDKs send over HTTPS.
  const std::string payload_hash =
      sign_payload_ && !source ? sha256_hex(body) : std::string("UNSIGNED-PAYLOAD");
  const auto hashed = Clock::now();
  std::mt19937 rng(std::random_device{}());
  auto delay = config_.backoff;
  for (int attempt = 1;; ++attempt) {
    HttpRequest req = signed_request(method, key, query, headers, body, payload_hash);
    if (source) {
      req.body_source = *source;
      req.body_size = source_size;
    }
    bytes_sent_ += source ? source_size : body.size();
    std::string failure;
    const auto sent = Clock::now();
    try {
      HttpResponse res;
      if (stream) {
        // A successful answer keeps its body in the stream; any other is read whole (S3's
        // small XML error) to be judged like any answer.
        *stream = http_.open(req);
        res = (*stream)->head();
        if (res.status < 200 || res.status >= 300) {
          res.body = (*stream)->read_all();
          stream->reset();
        }
      } else {
        res = http_.send(req);
      }
      // Where a registry request's time goes, request by request (a blob push is a few dozen).
      if (spdlog::should_log(spdlog::level::debug)) {
        using ms = std::chrono::duration<double, std::milli>;
        std::string q;
        for (const auto& [name, value] : query) q += (q.empty() ? "?" : "&") + name;
        spdlog::debug("s3: {} {}{} {} B: {} in {:.1f} ms (payload hash {:.1f} ms)", method, key, q,
                      source ? source_size : body.size(), res.status,
                      ms(Clock::now() - sent).count(), ms(hashed - started).count());
      }
      if (!retryable(res)) return res;
      std::string code = error_code(res);
      failure = std::to_string(res.status) + (code.empty() ? "" : " " + code);
      if (attempt >= config_.max_attempts) {
        throw S3Error("s3: " + method + " " + key + ": " + failure + " after " +
                          std::to_string(attempt) + " attempts",
                      res.status, code, S3Error::Unavailable{});
      }
    } catch (const NetworkError& e) {
      if (attempt >= config_.max_attempts) {
        throw S3Error("s3: " + method + " " + key + ": " + e.what() + " after " +
                          std::to_string(attempt) + " attempts",
                      0, "", S3Error::Unavailable{});
      }
    }
    // Every request here is safe to send again: the body is in memory (a streamed one's source
    // gives it again from its start), PUTs and DELETEs are idempotent, and a repeated
    // CompleteMultipartUpload fails cleanly (NoSuchUpload).
    std::uniform_int_distribution<long> jitter(0, delay.count());
    std::this_thread::sleep_for(delay + std::chrono::milliseconds(jitter(rng)));
    delay *= 2;
  }
}

HttpResponse Client::expect_ok(const std::string& what, const std::string& key, HttpResponse res) {
  if (res.status >= 200 && res.status < 300) {
    // CompleteMultipartUpload and UploadPartCopy can fail inside a 200 answer.
    if (res.body.find("<Error>") != std::string::npos) {
      std::string code = error_code(res);
      if (!code.empty()) throw S3Error("s3: " + what + " " + key + ": " + code, 500, code);
    }
    return res;
  }
  std::string code = error_code(res);
  throw S3Error("s3: " + what + " " + key + ": " + std::to_string(res.status) +
                    (code.empty() ? "" : " " + code),
                res.status, code);
}

void Client::add_write_headers(std::vector<std::pair<std::string, std::string>>& headers,
                               bool encryption) const {
  headers.emplace_back("content-type", "application/octet-stream");
  headers.emplace_back("x-amz-acl", config_.acl);
  if (!config_.storage_class.empty()) {
    headers.emplace_back("x-amz-storage-class", config_.storage_class);
  }
  if (encryption && config_.encrypt) {
    headers.emplace_back("x-amz-server-side-encryption",
                         config_.key_id.empty() ? "AES256" : "aws:kms");
    if (!config_.key_id.empty()) {
      headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", config_.key_id);
    }
  }
}

std::string Client::copy_source(const std::string& from) const {
  return uri_encode(config_.bucket + "/" + from, false);
}

namespace {

// A GET's 404 that means "no such key" (not a missing bucket, which is an error).
bool no_such_key(const HttpResponse& res) {
  if (res.status != 404) return false;
  std::string code = error_code(res);
  return code == "NoSuchKey" || code.empty();
}

// What HEAD and GET answer about an object in their headers.
ObjectInfo object_info(const std::string& key, const HttpResponse& res) {
  ObjectInfo info;
  info.key = key;
  if (const std::string* len = res.header("content-length")) info.size = std::stoull(*len);
  if (const std::string* etag = res.header("etag")) info.etag = *etag;
  if (const std::string* lm = res.header("last-modified")) {
    std::tm tm{};
    if (strptime(lm->c_str(), "%a, %d %b %Y %H:%M:%S", &tm)) {
      info.mod_time = std::chrono::system_clock::from_time_t(timegm(&tm));
    }
  }
  info.rgw = res.header("x-rgw-object-type") != nullptr;
  constexpr std::string_view kMeta = "x-amz-meta-";
  for (const auto& [name, value] : res.headers) {
    if (name.starts_with(kMeta)) info.metadata[name.substr(kMeta.size())] = value;
  }
  return info;
}

}  // namespace

std::optional<std::string> Client::get(const std::string& key, ObjectInfo* info) {
  HttpResponse res = send("GET", key, {}, {});
  if (no_such_key(res)) return std::nullopt;
  res = expect_ok("GET", key, std::move(res));
  if (info) *info = object_info(key, res);
  return std::move(res.body);
}

std::unique_ptr<HttpStream> Client::get_stream(const std::string& key, uint64_t offset,
                                               uint64_t& total_size, std::optional<uint64_t> last) {
  std::unique_ptr<HttpStream> stream;
  const std::string range =
      "bytes=" + std::to_string(offset) + "-" + (last ? std::to_string(*last) : "");
  HttpResponse res = send("GET", key, {}, {{"range", range}}, {}, &stream);
  if (no_such_key(res)) return nullptr;
  expect_ok("GET", key, std::move(res));
  const HttpResponse& head = stream->head();
  total_size = 0;
  if (const std::string* range = head.header("content-range")) {  // "bytes 0-9/1000"
    if (auto slash = range->rfind('/'); slash != std::string::npos) {
      total_size = std::stoull(range->substr(slash + 1));
    }
  } else if (const std::string* len = head.header("content-length")) {
    total_size = std::stoull(*len);  // 200: the whole object
  }
  return stream;
}

std::optional<ObjectInfo> Client::head(const std::string& key) {
  HttpResponse res = send("HEAD", key, {}, {});
  if (res.status == 404) return std::nullopt;
  return object_info(key, expect_ok("HEAD", key, std::move(res)));
}

void Client::put(const std::string& key, std::string_view body,
                 const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, std::string>> headers;
  add_write_headers(headers, true);
  for (const auto& [name, value] : metadata) headers.emplace_back("x-amz-meta-" + name, value);
  expect_ok("PUT", key, send("PUT", key, {}, std::move(headers), body));
}

void Client::remove(const std::string& key) {
  HttpResponse res = send("DELETE", key, {}, {});
  if (res.status == 404) return;
  expect_ok("DELETE", key, std::move(res));
}

void Client::remove_many(const std::vector<std::string>& keys) {
  for (size_t i = 0; i < keys.size(); i += 1000) {
    std::string body = "<Delete><Quiet>true</Quiet>";
    for (size_t j = i; j < keys.size() && j < i + 1000; ++j) {
      body += "<Object><Key>" + xml_escape(keys[j]) + "</Key></Object>";
    }
    body += "</Delete>";
    HttpResponse res = expect_ok(
        "DeleteObjects", keys[i],
        send("POST", "", {{"delete", ""}},
             {{"content-md5", md5_base64(body)}, {"content-type", "application/xml"}}, body));
    auto doc = parse_xml(res.body, "DeleteObjects");
    for (auto err : doc.child("DeleteResult").children("Error")) {
      std::string code = err.child_value("Code");
      if (code == "NoSuchKey") continue;
      throw S3Error("s3: DeleteObjects " + std::string(err.child_value("Key")) + ": " + code, 500,
                    code);
    }
  }
}

ListPage Client::list(const std::string& prefix, const std::string& delimiter,
                      const std::optional<std::string>& continuation, int max_keys) {
  Query q{{"list-type", "2"}, {"prefix", prefix}, {"max-keys", std::to_string(max_keys)}};
  if (!delimiter.empty()) q.emplace("delimiter", delimiter);
  if (continuation) q.emplace("continuation-token", *continuation);
  HttpResponse res = expect_ok("ListObjectsV2", prefix, send("GET", "", q, {}));
  auto doc = parse_xml(res.body, "ListObjectsV2");
  auto root = doc.child("ListBucketResult");
  ListPage page;
  for (auto c : root.children("Contents")) {
    ObjectInfo info;
    info.key = c.child_value("Key");
    info.size = std::strtoull(c.child_value("Size"), nullptr, 10);
    info.mod_time = parse_time(c.child_value("LastModified"));
    info.etag = c.child_value("ETag");
    page.objects.push_back(std::move(info));
  }
  for (auto p : root.children("CommonPrefixes"))
    page.prefixes.emplace_back(p.child_value("Prefix"));
  if (std::string_view(root.child_value("IsTruncated")) == "true") {
    page.next = root.child_value("NextContinuationToken");
  }
  return page;
}

void Client::copy(const std::string& from, const std::string& to) {
  std::vector<std::pair<std::string, std::string>> headers{
      {"x-amz-copy-source", copy_source(from)}};
  add_write_headers(headers, true);
  expect_ok("CopyObject", to, send("PUT", to, {}, std::move(headers)));
}

void Client::create_bucket() {
  HttpResponse res = send("PUT", "", {}, {});
  if (res.status == 409 && error_code(res) == "BucketAlreadyOwnedByYou") return;
  expect_ok("CreateBucket", config_.bucket, std::move(res));
}

std::string Client::create_multipart(const std::string& key) {
  std::vector<std::pair<std::string, std::string>> headers;
  add_write_headers(headers, true);
  HttpResponse res = expect_ok("CreateMultipartUpload", key,
                               send("POST", key, {{"uploads", ""}}, std::move(headers)));
  auto doc = parse_xml(res.body, "CreateMultipartUpload");
  std::string id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty()) throw S3Error("s3: CreateMultipartUpload " + key + ": no UploadId", 500, "");
  return id;
}

std::string Client::upload_part(const std::string& key, const std::string& upload_id, int number,
                                std::string_view body) {
  HttpResponse res =
      expect_ok("UploadPart", key,
                send("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                     {}, body));
  const std::string* etag = res.header("etag");
  if (!etag) throw S3Error("s3: UploadPart " + key + ": no ETag", 500, "");
  return *etag;
}

std::string Client::upload_part_streamed(const std::string& key, const std::string& upload_id,
                                         int number, uint64_t size,
                                         const std::function<std::string_view(uint64_t)>& source) {
  HttpResponse res =
      expect_ok("UploadPart", key,
                send("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                     {}, {}, nullptr, &source, size));
  const std::string* etag = res.header("etag");
  if (!etag) throw S3Error("s3: UploadPart " + key + ": no ETag", 500, "");
  return *etag;
}

std::string Client::upload_part_copy(const std::string& key, const std::string& upload_id,
                                     int number, const std::string& from, uint64_t first,
                                     uint64_t last) {
  std::vector<std::pair<std::string, std::string>> headers{
      {"x-amz-copy-source", copy_source(from)},
      {"x-amz-copy-source-range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)}};
  HttpResponse res =
      expect_ok("UploadPartCopy", key,
                send("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                     std::move(headers)));
  auto doc = parse_xml(res.body, "UploadPartCopy");
  std::string etag = doc.child("CopyPartResult").child_value("ETag");
  if (etag.empty()) throw S3Error("s3: UploadPartCopy " + key + ": no ETag", 500, "");
  bytes_copied_ += last - first + 1;
  return etag;
}

void Client::complete_multipart(const std::string& key, const std::string& upload_id,
                                const std::vector<Part>& parts) {
  std::string body = "<CompleteMultipartUpload>";
  for (const Part& p : parts) {
    body += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" +
            xml_escape(p.etag) + "</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  expect_ok(
      "CompleteMultipartUpload", key,
      send("POST", key, {{"uploadId", upload_id}}, {{"content-type", "application/xml"}}, body));
}

void Client::abort_multipart(const std::string& key, const std::string& upload_id) {
  HttpResponse res = send("DELETE", key, {{"uploadId", upload_id}}, {});
  if (res.status == 404) return;  // already completed or aborted
  expect_ok("AbortMultipartUpload", key, std::move(res));
}

std::vector<std::string> Client::multipart_uploads(const std::string& key) {
  std::vector<std::string> ids;
  for (auto& [k, id] : multipart_uploads_under(key)) {
    if (k == key) ids.push_back(std::move(id));
  }
  return ids;
}

std::vector<std::pair<std::string, std::string>> Client::multipart_uploads_under(
    const std::string& prefix) {
  std::vector<std::pair<std::string, std::string>> uploads;
  Query q{{"uploads", ""}, {"prefix", prefix}};
  for (;;) {
    HttpResponse res = expect_ok("ListMultipartUploads", prefix, send("GET", "", q, {}));
    auto doc = parse_xml(res.body, "ListMultipartUploads");
    auto root = doc.child("ListMultipartUploadsResult");
    for (auto u : root.children("Upload")) {
      uploads.emplace_back(u.child_value("Key"), u.child_value("UploadId"));
    }
    if (std::string_view(root.child_value("IsTruncated")) != "true") break;
    q = {{"uploads", ""},
         {"prefix", prefix},
         {"key-marker", root.child_value("NextKeyMarker")},
         {"upload-id-marker", root.child_value("NextUploadIdMarker")}};
  }
  return uploads;
}

std::vector<Part> Client::list_parts(const std::string& key, const std::string& upload_id) {
  std::vector<Part> parts;
  Query q{{"uploadId", upload_id}};
  for (;;) {
    HttpResponse res = expect_ok("ListParts", key, send("GET", key, q, {}));
    auto doc = parse_xml(res.body, "ListParts");
    auto root = doc.child("ListPartsResult");
    for (auto p : root.children("Part")) {
      parts.push_back({std::atoi(p.child_value("PartNumber")), p.child_value("ETag"),
                       std::strtoull(p.child_value("Size"), nullptr, 10)});
    }
    if (std::string_view(root.child_value("IsTruncated")) != "true") break;
    q = {{"uploadId", upload_id}, {"part-number-marker", root.child_value("NextPartNumberMarker")}};
  }
  return parts;
}

}  // namespace onsen::storage::s3
