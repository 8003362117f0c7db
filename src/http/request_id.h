// Request ids: every request gets one, sent back in the X-Request-Id response header and written in
// every log line of the request (base/request_context.h). Distribution 2.8 gives each request a new
// random UUID (its http.request.id) and reads no incoming header; Onsen does the same, except that
// it keeps an id that a proxy in front already gave the request (nginx's $request_id, Envoy's and
// Traefik's X-Request-Id), so that one id follows the request through both logs. Such an id is
// kept only when it is 1 to 64 characters of [A-Za-z0-9._:-] (UUIDs, hex strings): anything else
// is replaced, so that a client cannot put quotes, spaces or control characters in the logs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace onsen::http {

constexpr size_t kMaxRequestIdLength = 64;

// Whether an incoming X-Request-Id value is kept as the request's id.
bool acceptable_request_id(std::string_view id);

// Sets `id` to `incoming` when acceptable, else to a new random (version 4) UUID,
// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". Reuses id's storage.
void assign_request_id(std::string& id, std::optional<std::string_view> incoming);

}  // namespace onsen::http
