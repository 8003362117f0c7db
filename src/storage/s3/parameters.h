// The s3 driver's configuration, read from Distribution's `storage.s3` keys with its defaults,
// bounds and error wording (registry/storage/driver/s3-aws/s3.go, 2.8).
#pragma once

#include <string>
#include <vector>

#include "storage/factory.h"
#include "storage/s3/driver.h"

namespace onsen::storage::s3 {

// The keys Distribution 2.8's s3 driver reads, and Onsen's own `timeout`.
const std::vector<std::string_view>& parameter_names();

// Throws ParameterError for the first invalid or missing parameter. Credentials missing from the
// parameters come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
DriverConfig parse_parameters(const Parameters& params);

// "s3://bucket/rootdirectory at endpoint", for log lines.
std::string describe(const Parameters& params);

}  // namespace onsen::storage::s3
