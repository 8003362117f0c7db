// The configuration used when no file is given or found: what Distribution's registry:2 image
// ships as /etc/docker/registry/config.yml. The text is config/registry-default.yml, embedded at
// build time (cmake/default_config.cmake); the container image and the benchmark copy that file.
#pragma once

#include <string_view>

namespace onsen::config {

std::string_view default_config_text();

}  // namespace onsen::config
