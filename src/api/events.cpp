#include "api/events.h"

#include "base/uuid.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>

namespace onsen::api {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kBlobMediaType = "application/octet-stream";

// Go's time.Time in JSON (RFC 3339 with nanoseconds, trailing zeros cut), in UTC.
std::string timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const auto since_epoch = now.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const long nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (nanos > 0) {
    std::string fraction = fmt::format("{:09}", nanos);
    fraction.erase(fraction.find_last_not_of('0') + 1);
    out += "." + fraction;
  }
  return out + "Z";
}

// Distribution's RemoteAddr: the first X-Forwarded-For address, else X-Real-Ip, else the peer
// (address and port). Only what parses as an IP address is taken from the headers.
bool looks_like_ip(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF.:") == std::string_view::npos &&
         s.find_first_of(".:") != std::string_view::npos;
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::string remote_addr(const http::Request& req) {
  if (auto forwarded = req.headers.get("X-Forwarded-For")) {
    std::string first = trimmed(forwarded->substr(0, forwarded->find(',')));
    if (looks_like_ip(first)) return first;
  }
  if (auto real = req.headers.get("X-Real-Ip")) {
    std::string ip = trimmed(*real);
    if (looks_like_ip(ip)) return ip;
  }
  return req.peer.unix_socket() ? std::string() : req.peer.to_string();
}

// A reference as 2.8 lists it: a distribution.Descriptor, its fields in that order, empty ones
// left out (an index's platform too: 2.8 lists its entries' descriptors without it).
Json descriptor(const Json& in) {
  Json out = Json::object();
  for (const char* key : {"mediaType", "size", "digest", "urls", "annotations"}) {
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) continue;
    if ((it->is_string() || it->is_array() || it->is_object()) && it->empty()) continue;
    if (it->is_number() && *it == 0) continue;
    out[key] = *it;
  }
  return out;
}

// What 2.8's Manifest.References() lists: an image's config and layers (an artifact's blobs),
// an index's manifests.
Json references_of(std::string_view bytes) {
  Json refs = Json::array();
  Json manifest = Json::parse(bytes, nullptr, false);
  if (!manifest.is_object()) return refs;
  auto add = [&](const char* key) {
    auto it = manifest.find(key);
    if (it == manifest.end()) return;
    if (it->is_object()) refs.push_back(descriptor(*it));
    if (it->is_array()) {
      for (const auto& d : *it) {
        if (d.is_object()) refs.push_back(descriptor(d));
      }
    }
  };
  add("config");
  add("layers");
  add("blobs");
  add("manifests");
  return refs;
}

void put_size(Json& target, uint64_t size) {
  if (size == 0) return;  // Go's omitempty
  target["size"] = size;
}

}  // namespace

std::string RequestEvents::url(const std::string& repo, std::string_view kind,
                               const registry::Digest& digest) const {
  const std::string path = fmt::format("{}/v2/{}/{}/{}", prefix_, repo, kind, digest.str());
  // As 2.8's URL builder: http.host when set, else a path with http.relativeurls, else the
  // scheme and host the client used (X-Forwarded-Proto / X-Forwarded-Host when a proxy says so).
  if (!host_.empty()) return host_ + path;
  if (options_.relative_urls) return path;
  std::string scheme = options_.tls ? "https" : "http";
  if (auto proto = req_.headers.get("X-Forwarded-Proto"); proto && !proto->empty()) {
    scheme = trimmed(*proto);
  }
  std::string host(req_.headers.get("Host").value_or(""));
  if (auto forwarded = req_.headers.get("X-Forwarded-Host"); forwarded && !forwarded->empty()) {
    host = trimmed(forwarded->substr(0, forwarded->find(',')));
  }
  return scheme + "://" + host + path;
}

void RequestEvents::publish(std::string_view action, std::string media_type, Json& target) {
  // The request's own id (X-Request-Id, its log lines), so events and logs can be joined.
  if (request_id_.empty())
    request_id_ = req_.id.empty() ? base::fast_random_uuid() : std::string(req_.id);
  Json event = Json::object();
  event["id"] = base::fast_random_uuid();
  event["timestamp"] = timestamp_now();
  event["action"] = action;
  event["target"] = std::move(target);
  Json request = Json::object();
  request["id"] = request_id_;
  if (std::string addr = remote_addr(req_); !addr.empty()) request["addr"] = addr;
  if (auto host = req_.headers.get("Host"); host && !host->empty()) request["host"] = *host;
  request["method"] = req_.method;
  request["useragent"] = req_.headers.get("User-Agent").value_or("");
  event["request"] = std::move(request);
  event["actor"] = Json::object();
  if (!actor_.empty()) event["actor"]["name"] = actor_;
  Json source = Json::object();
  if (!options_.source_addr.empty()) source["addr"] = options_.source_addr;
  if (!options_.instance_id.empty()) source["instanceID"] = options_.instance_id;
  event["source"] = std::move(source);
  // Invalid UTF-8 (a header's bytes) is replaced rather than thrown on.
  auto out = std::make_shared<notify::Event>(
      notify::Event{std::string(action), std::move(media_type),
                    event.dump(-1, ' ', false, Json::error_handler_t::replace)});
  options_.notifier->publish(out);
}

void RequestEvents::manifest(std::string_view action, const std::string& repo,
                             const registry::Digest& digest, std::string_view media_type,
                             std::string_view bytes, std::string_view tag) {
  if (!enabled()) return;
  Json target = Json::object();
  if (!media_type.empty()) target["mediaType"] = media_type;
  put_size(target, bytes.size());
  target["digest"] = digest.str();
  if (!bytes.empty()) target["length"] = bytes.size();
  target["repository"] = repo;
  target["url"] = url(repo, "manifests", digest);
  if (!tag.empty()) target["tag"] = tag;
  if (options_.include_references) {
    Json refs = references_of(bytes);
    if (!refs.empty()) target["references"] = std::move(refs);
  }
  publish(action, std::string(media_type), target);
}

void RequestEvents::blob(std::string_view action, const std::string& repo,
                         const registry::Digest& digest, uint64_t size, std::string_view from) {
  if (!enabled()) return;
  Json target = Json::object();
  target["mediaType"] = kBlobMediaType;
  put_size(target, size);
  target["digest"] = digest.str();
  if (size > 0) target["length"] = size;
  target["repository"] = repo;
  if (!from.empty()) target["fromRepository"] = from;
  target["url"] = url(repo, "blobs", digest);
  publish(action, std::string(kBlobMediaType), target);
}

void RequestEvents::deleted_manifest(const std::string& repo, const registry::Digest& digest) {
  if (!enabled()) return;
  Json target = Json::object();
  target["digest"] = digest.str();
  target["repository"] = repo;
  publish("delete", "", target);
}

void RequestEvents::deleted_tag(const std::string& repo, std::string_view tag) {
  if (!enabled()) return;
  Json target = Json::object();
  target["repository"] = repo;
  target["tag"] = tag;
  publish("delete", "", target);
}

}  // namespace onsen::api
