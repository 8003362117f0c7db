#include "storage/factory.h"

#include <algorithm>
#include <string_view>

#include "storage/filesystem.h"
#include "storage/inmemory.h"
#include "storage/s3/parameters.h"

namespace onsen::storage {

ParameterError::ParameterError(std::string parameter, std::string reason)
    : Error(parameter.empty() ? reason : parameter + ": " + reason),
      parameter_(std::move(parameter)),
      reason_(std::move(reason)) {}

namespace {

// One driver: the parameters it knows, how to build it (validating them first; `build` false:
// only validate) and where it keeps its data.
struct Entry {
  std::string_view name;
  std::vector<std::string_view> parameters;
  std::shared_ptr<Driver> (*make)(const Parameters&, bool build);
  std::string (*location)(const Parameters&);
};

const std::string* find(const Parameters& params, const std::string& key) {
  auto it = params.find(key);
  return it == params.end() ? nullptr : &it->second;
}

std::string filesystem_root(const Parameters& params) {
  const std::string* v = find(params, "rootdirectory");
  return v ? *v : "/var/lib/registry";
}

std::shared_ptr<Driver> filesystem(const Parameters& params, bool build) {
  std::string root = filesystem_root(params);
  if (root.empty()) throw ParameterError("rootdirectory", "must not be empty");
  if (const std::string* v = find(params, "maxthreads")) {
    if (v->empty() || v->size() > 18 ||
        !std::all_of(v->begin(), v->end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw ParameterError("maxthreads", "expected a non-negative integer, got \"" + *v + "\"");
    }
  }
  return build ? std::make_shared<FilesystemDriver>(root) : nullptr;
}

std::shared_ptr<Driver> inmemory(const Parameters&, bool build) {
  return build ? std::make_shared<InMemoryDriver>() : nullptr;
}

std::shared_ptr<Driver> s3_driver(const Parameters& params, bool build) {
  s3::DriverConfig config = s3::parse_parameters(params);
  return build ? std::make_shared<s3::S3Driver>(std::move(config)) : nullptr;
}

const Entry kDrivers[] = {
    {"filesystem", {"rootdirectory", "maxthreads"}, filesystem, filesystem_root},
    {"inmemory", {}, inmemory, [](const Parameters&) { return std::string("process memory"); }},
    {"s3", {s3::parameter_names().begin(), s3::parameter_names().end()}, s3_driver, s3::describe},
};

const Entry& entry(const std::string& name) {
  for (const Entry& e : kDrivers) {
    if (e.name == name) return e;
  }
  throw ParameterError("", "driver " + name + " is not supported yet");
}

}  // namespace

std::vector<std::string> check_parameters(const std::string& name, const Parameters& params) {
  const Entry& e = entry(name);
  e.make(params, false);
  std::vector<std::string> unknown;
  for (const auto& [key, value] : params) {
    if (std::find(e.parameters.begin(), e.parameters.end(), key) == e.parameters.end()) {
      unknown.push_back(key);
    }
  }
  return unknown;
}

std::string location(const std::string& name, const Parameters& params) {
  return entry(name).location(params);
}

std::shared_ptr<Driver> make_driver(const std::string& name, const Parameters& params) {
  return entry(name).make(params, true);
}

}  // namespace onsen::storage
