// Decoded query parameters of a request target (Boost.URL does the percent-decoding).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace onsen::api {

class Query {
 public:
  // Parses the raw query string (after '?'); malformed encodings make the query empty of that
  // parameter rather than failing the request.
  explicit Query(std::string_view raw);
  // First value of a parameter; nullopt when absent ("?a" gives "").
  std::optional<std::string> get(const std::string& key) const;

 private:
  std::multimap<std::string, std::string> params_;
};

}  // namespace onsen::api
