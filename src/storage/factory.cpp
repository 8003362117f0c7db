#include "storage/factory.h"

#include "storage/filesystem.h"
#include "storage/inmemory.h"

namespace onsen::storage {

std::shared_ptr<Driver> make_driver(const std::string& name,
                                    const std::map<std::string, std::string>& params) {
  if (name == "filesystem") {
    auto it = params.find("rootdirectory");
    std::string root = it == params.end() ? "/var/lib/registry" : it->second;
    if (root.empty()) throw Error("storage driver filesystem: rootdirectory is empty");
    return std::make_shared<FilesystemDriver>(root);
  }
  if (name == "inmemory") return std::make_shared<InMemoryDriver>();
  throw Error("unknown storage driver \"" + name + "\" (supported: filesystem, inmemory)");
}

}  // namespace onsen::storage
