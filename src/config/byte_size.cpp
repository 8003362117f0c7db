#include "config/byte_size.h"

#include <cctype>
#include <cmath>
#include <string>

namespace onsen::config {

namespace {

struct Unit {
  std::string_view name;  // lower case
  double factor;
};

constexpr Unit kUnits[] = {
    {"", 1},
    {"b", 1},
    {"k", 1e3},
    {"kb", 1e3},
    {"kib", 1024.0},
    {"m", 1e6},
    {"mb", 1e6},
    {"mib", 1048576.0},
    {"g", 1e9},
    {"gb", 1e9},
    {"gib", 1073741824.0},
    {"t", 1e12},
    {"tb", 1e12},
    {"tib", 1099511627776.0},
    {"p", 1e15},
    {"pb", 1e15},
    {"pib", 1125899906842624.0},
};

}  // namespace

std::optional<uint64_t> parse_byte_size(std::string_view text) {
  size_t i = 0;
  std::string number;
  bool dot = false;
  for (; i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.');
       ++i) {
    if (text[i] == '.') {
      if (dot) return std::nullopt;
      dot = true;
    }
    number += text[i];
  }
  if (number.empty() || number == "." || number.size() > 24) return std::nullopt;
  if (i < text.size() && text[i] == ' ') ++i;
  std::string unit;
  for (; i < text.size(); ++i) {
    if (!std::isalpha(static_cast<unsigned char>(text[i]))) return std::nullopt;
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  }
  for (const Unit& u : kUnits) {
    if (u.name != unit) continue;
    if (!dot && u.factor == 1) {
      // Whole bytes exactly, without a round trip through double.
      if (number.size() > 19) return std::nullopt;  // 19 digits always fit 64 bits
      return std::stoull(number);
    }
    const long double value = std::stold(number) * static_cast<long double>(u.factor);
    if (!std::isfinite(value) || value >= 18446744073709551615.0L) return std::nullopt;
    return static_cast<uint64_t>(std::floor(value));
  }
  return std::nullopt;
}

}  // namespace onsen::config
