#include "http/request_id.h"

#include "base/uuid.h"

namespace onsen::http {

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

void assign_request_id(std::string& id, std::optional<std::string_view> incoming) {
  if (incoming && acceptable_request_id(*incoming)) {
    id.assign(*incoming);
    return;
  }
  base::fast_random_uuid(id);
}

}  // namespace onsen::http
