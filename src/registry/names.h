// Validation of repository names, tags and upload ids by the OCI distribution-spec grammar.
#pragma once

#include <string_view>

namespace onsen::registry {

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*, at most 255 characters.
bool valid_repository_name(std::string_view name);
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool valid_tag(std::string_view tag);
// Upload ids are ones this registry made: a lowercase RFC 4122 UUID (8-4-4-4-12 hex).
bool valid_upload_id(std::string_view id);

}  // namespace onsen::registry
