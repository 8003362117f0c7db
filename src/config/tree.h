// The configuration as a plain tree, between YAML parsing and conversion to Config: the file
// and the REGISTRY_* overrides are merged on this tree. Each node remembers the environment
// variable that produced it, so errors can name the variable instead of the key.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace onsen::config {

struct ConfigNode {
  enum class Kind { Null, Scalar, Sequence, Map };

  Kind kind = Kind::Null;
  std::string scalar;   // Kind::Scalar: the text, quotes removed
  bool quoted = false;  // Kind::Scalar: written quoted (or tagged !!str), so never a bool/number
  std::vector<ConfigNode> items;                            // Kind::Sequence
  std::vector<std::pair<std::string, ConfigNode>> entries;  // Kind::Map, in document order
  std::string env;  // the REGISTRY_* variable this node came from; empty when from the file

  // Defined in tree.cpp, where ConfigNode is complete: std::pair<std::string, ConfigNode> above
  // needs a complete type, and clang with libstdc++ (the fuzz build) rejects the implicit ones.
  ConfigNode();
  ConfigNode(const ConfigNode&);
  ConfigNode(ConfigNode&&) noexcept;
  ConfigNode& operator=(const ConfigNode&);
  ConfigNode& operator=(ConfigNode&&) noexcept;
  ~ConfigNode();

  static ConfigNode make_map() {
    ConfigNode n;
    n.kind = Kind::Map;
    return n;
  }
  static ConfigNode make_scalar(std::string text) {
    ConfigNode n;
    n.kind = Kind::Scalar;
    n.scalar = std::move(text);
    return n;
  }

  bool is_null() const { return kind == Kind::Null; }
  bool is_scalar() const { return kind == Kind::Scalar; }
  bool is_sequence() const { return kind == Kind::Sequence; }
  bool is_map() const { return kind == Kind::Map; }

  // Kind::Map: the value under exactly `key`, or nullptr.
  const ConfigNode* find(const std::string& key) const;
  ConfigNode* find(const std::string& key);
  // Kind::Map: removes `key` if present.
  void erase(const std::string& key);
  // Marks this node and everything below it as coming from variable `name`.
  void mark_env(const std::string& name);
};

// Parses one YAML document into a tree. Throws YAML::Exception on malformed input. Merge keys
// ("<<: *anchor") are expanded; a repeated key keeps its last value. Input whose aliases expand
// deeper than 64 levels or to more than 100,000 values (a recursive alias, "billion laughs") is a
// YAML::Exception too.
ConfigNode parse_yaml(const std::string& text);

// Describes a node's value for error messages: "\"maybe\"", "a list", "a map", "null".
std::string describe(const ConfigNode& node);

}  // namespace onsen::config
