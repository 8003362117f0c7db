// `onsen serve [CONFIG]`: loads the configuration and wires storage, registry, API and transport.
#pragma once

#include <string>

namespace onsen::cli {

// Returns the process exit status: 0 after a clean shutdown, 2 for a configuration error,
// 1 for any other startup failure.
int serve(const std::string& config_path);

}  // namespace onsen::cli
