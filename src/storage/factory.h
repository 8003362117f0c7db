// Builds the storage driver named in the configuration (Distribution's "storage:" section).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "storage/driver.h"

namespace onsen::storage {

// "filesystem": param "rootdirectory" (default "/var/lib/registry"); "inmemory": no params.
// Parameters a driver does not know are ignored (Distribution's drivers take more, e.g.
// "maxthreads"). Throws Error naming the driver when it is unknown, or when a parameter is invalid.
std::shared_ptr<Driver> make_driver(const std::string& name,
                                    const std::map<std::string, std::string>& params);

}  // namespace onsen::storage
