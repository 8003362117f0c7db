#include "config/tree.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace onsen::config {

ConfigNode::ConfigNode() = default;
ConfigNode::ConfigNode(const ConfigNode&) = default;
ConfigNode::ConfigNode(ConfigNode&&) noexcept = default;
ConfigNode& ConfigNode::operator=(const ConfigNode&) = default;
ConfigNode& ConfigNode::operator=(ConfigNode&&) noexcept = default;
ConfigNode::~ConfigNode() = default;

namespace {

bool is_merge_key(const YAML::Node& key) {
  return key.IsScalar() && key.Tag() == "?" && key.Scalar() == "<<";
}

void set_entry(ConfigNode& map, std::string key, ConfigNode value) {
  if (ConfigNode* existing = map.find(key)) {
    *existing = std::move(value);
  } else {
    map.entries.emplace_back(std::move(key), std::move(value));
  }
}

// Aliases make the YAML a graph: "a: &a {<<: *a}" refers to itself, and a few levels of lists of
// aliases to lists expand exponentially ("billion laughs"). Expanding them into a tree is bounded
// in depth and in nodes, far beyond any real configuration, so hostile input is an error, not a
// stack overflow or an exhausted memory.
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxNodes = 100000;

class Converter {
 public:
  ConfigNode convert(const YAML::Node& node, int depth = 0) {
    if (depth > kMaxDepth) {
      throw YAML::Exception(node.Mark(), "nested deeper than " + std::to_string(kMaxDepth) +
                                             " levels (a recursive alias?)");
    }
    if (++nodes_ > kMaxNodes) {
      throw YAML::Exception(node.Mark(), "more than " + std::to_string(kMaxNodes) +
                                             " values once aliases are expanded");
    }
    ConfigNode out;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        break;
      case YAML::NodeType::Scalar:
        out.kind = ConfigNode::Kind::Scalar;
        out.scalar = node.Scalar();
        // yaml-cpp tags plain scalars "?" and quoted ones "!".
        out.quoted = node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
        break;
      case YAML::NodeType::Sequence:
        out.kind = ConfigNode::Kind::Sequence;
        for (const auto& item : node) out.items.push_back(convert(item, depth + 1));
        break;
      case YAML::NodeType::Map: {
        out.kind = ConfigNode::Kind::Map;
        std::vector<ConfigNode> merged;  // "<<" values, in order of precedence
        for (const auto& kv : node) {
          if (is_merge_key(kv.first)) {
            if (kv.second.IsSequence()) {
              for (const auto& m : kv.second) merged.push_back(convert(m, depth + 1));
            } else {
              merged.push_back(convert(kv.second, depth + 1));
            }
            continue;
          }
          std::string key = kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first);
          set_entry(out, std::move(key), convert(kv.second, depth + 1));
        }
        for (auto& m : merged) {
          if (!m.is_map()) continue;
          for (auto& [k, v] : m.entries) {
            if (!out.find(k)) out.entries.emplace_back(k, std::move(v));
          }
        }
        break;
      }
    }
    return out;
  }

 private:
  std::size_t nodes_ = 0;
};

}  // namespace

const ConfigNode* ConfigNode::find(const std::string& key) const {
  auto it =
      std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.first == key; });
  return it == entries.end() ? nullptr : &it->second;
}

ConfigNode* ConfigNode::find(const std::string& key) {
  return const_cast<ConfigNode*>(std::as_const(*this).find(key));
}

void ConfigNode::erase(const std::string& key) {
  std::erase_if(entries, [&](const auto& e) { return e.first == key; });
}

void ConfigNode::mark_env(const std::string& name) {
  env = name;
  for (auto& item : items) item.mark_env(name);
  for (auto& entry : entries) entry.second.mark_env(name);
}

ConfigNode parse_yaml(const std::string& text) {
  return Converter().convert(YAML::Load(text));
}

std::string describe(const ConfigNode& node) {
  switch (node.kind) {
    case ConfigNode::Kind::Null:
      return "null";
    case ConfigNode::Kind::Scalar:
      return "\"" + node.scalar + "\"";
    case ConfigNode::Kind::Sequence:
      return "a list";
    case ConfigNode::Kind::Map:
      return "a map";
  }
  return "?";
}

}  // namespace onsen::config
