// Builds the storage driver named in the configuration (Distribution's "storage:" section): a
// driver name and its parameters, validated here by the driver's own entry, so the configuration
// layer knows no driver and a new driver is one more entry in factory.cpp.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/driver.h"

namespace onsen::storage {

// A driver's parameters as written in the configuration: scalar values as text.
using Parameters = std::map<std::string, std::string>;

// A parameter the driver rejects, or (parameter() empty) a driver name no entry has. reason()
// reads after the key: "must not be empty", "driver s3 is not supported yet".
class ParameterError : public Error {
 public:
  ParameterError(std::string parameter, std::string reason);
  const std::string& parameter() const { return parameter_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string parameter_;
  std::string reason_;
};

// Validates `params` for driver `name` without touching the backend. Throws ParameterError for
// an unknown driver or the first invalid parameter; returns the names of parameters the driver
// does not know (ignored, as Distribution's drivers ignore them; the caller warns).
//   filesystem: rootdirectory (default /var/lib/registry, not empty), maxthreads (an integer,
//               accepted for compatibility: the driver needs no thread pool)
//   inmemory:   none
//   s3:         Distribution's storage.s3 keys (region and bucket required), see
//               s3/parameters.h
std::vector<std::string> check_parameters(const std::string& name, const Parameters& params);

// Where driver `name` keeps its data, for log lines: "/var/lib/registry", "process memory".
std::string location(const std::string& name, const Parameters& params);

// check_parameters, then the driver.
std::shared_ptr<Driver> make_driver(const std::string& name, const Parameters& params);

}  // namespace onsen::storage
