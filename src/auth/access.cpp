#include "auth/access.h"

namespace onsen::auth {

std::string Access::scope() const {
  std::string out = type + ":" + name + ":";
  for (std::size_t i = 0; i < actions.size(); ++i) {
    if (i > 0) out += ',';
    out += actions[i];
  }
  return out;
}

std::string scope_of(const std::vector<Access>& access) {
  std::string out;
  for (const auto& a : access) {
    if (!out.empty()) out += ' ';
    out += a.scope();
  }
  return out;
}

}  // namespace onsen::auth
