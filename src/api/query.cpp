#include "api/query.h"

#include <boost/url/parse_query.hpp>

namespace onsen::api {

Query::Query(std::string_view raw) {
  if (raw.empty()) return;
  // Boost.URL 1.81's parse_query re-measures its input with strlen(), reading past the end of a
  // view that is not NUL-terminated (found by tests/fuzz/query_fuzzer): give it a string.
  const std::string terminated(raw);
  auto parsed = boost::urls::parse_query(terminated);
  if (!parsed) return;
  for (auto param : *parsed) {
    params_.emplace(param.key.decode(), param.has_value ? param.value.decode() : std::string());
  }
}

std::optional<std::string> Query::get(const std::string& key) const {
  auto it = params_.find(key);
  if (it == params_.end()) return std::nullopt;
  return it->second;
}

}  // namespace onsen::api
