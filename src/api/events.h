// The notification events of one request, in registry:2's format (Distribution 2.8's
// notifications/bridge.go): what the API did (push, pull, mount, delete of a manifest, blob or
// tag), to which target, for which request and user, from which instance. Written as JSON here,
// where the request, the authenticated user and the route are known, and handed to
// notify::Notifier, which queues and delivers them without this request waiting.
//
// Which operations emit what (as 2.8, checked against Debian's docker-registry by
// tests/notifications/notifications_test.py):
//   manifest PUT: push (target: mediaType, size, digest, length, repository, url by digest, and
//     tag when pushed by tag; references with events.includereferences);
//   manifest GET and HEAD: pull (tag when asked by tag);
//   blob GET and HEAD: pull; upload finished (PUT, or a monolithic POST): push; mount: mount
//     (with fromRepository when the request named it);
//   manifest DELETE by digest: delete {digest, repository}, then delete {repository, tag} for each
//     tag that pointed at it; by tag (2.8 refuses it; Onsen deletes the tag): delete {repository,
//     tag}; blob DELETE: delete {digest, repository}.
// Blob events carry mediaType application/octet-stream, as 2.8's.
#pragma once

#include "http/message.h"
#include "notify/notifier.h"
#include "registry/digest.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace onsen::api {

struct EventOptions {
  notify::Notifier* notifier = nullptr;  // null: no events are written at all
  bool include_references = false;       // notifications.events.includereferences
  bool tls = false;                      // the API's listener is https: URLs without http.host
  bool relative_urls = false;            // http.relativeurls: target URLs are paths
  std::string source_addr;               // source.addr: this host's name and the API's port
  std::string instance_id;               // source.instanceID: one per process
};

class RequestEvents {
 public:
  // `host`, `prefix`: ApiOptions' (http.host, http.prefix), for the target URLs. All references
  // must outlive this object (one request).
  RequestEvents(const EventOptions& options, const http::Request& req, const std::string& host,
                const std::string& prefix)
      : options_(options), req_(req), host_(host), prefix_(prefix) {}

  bool enabled() const { return options_.notifier != nullptr; }
  void set_actor(std::string user) { actor_ = std::move(user); }

  // A manifest pushed or pulled; `bytes` is the manifest (its length and references), `tag` empty
  // when the reference was a digest.
  void manifest(std::string_view action, const std::string& repo, const registry::Digest& digest,
                std::string_view media_type, std::string_view bytes, std::string_view tag);
  // A blob pushed, pulled or mounted (from: the source repository when known).
  void blob(std::string_view action, const std::string& repo, const registry::Digest& digest,
            uint64_t size, std::string_view from = {});
  // A manifest (digest) or a tag deleted.
  void deleted_manifest(const std::string& repo, const registry::Digest& digest);
  void deleted_tag(const std::string& repo, std::string_view tag);
  // A blob deleted.
  void deleted_blob(const std::string& repo, const registry::Digest& digest) {
    deleted_manifest(repo, digest);  // the same shape in 2.8
  }

 private:
  std::string url(const std::string& repo, std::string_view kind,
                  const registry::Digest& digest) const;
  // Completes the event around `target` (id, timestamp, request, actor, source) and queues it.
  void publish(std::string_view action, std::string media_type, nlohmann::ordered_json& target);

  const EventOptions& options_;
  const http::Request& req_;
  const std::string& host_;
  const std::string& prefix_;
  std::string actor_;
  std::string request_id_;  // the request's id (http::Request::id): every event of it shares it
};

}  // namespace onsen::api
