// The log output as log.* configures it: the level, and the line format. "text" (the default) is
// Onsen's own pattern; "json" and "logstash" (Distribution's logstash formatter writes JSON too)
// write one JSON object per line: time, level, msg, then the log.fields entries.
#pragma once

#include <spdlog/formatter.h>

#include <map>
#include <memory>
#include <string>

#include "config/config.h"

namespace onsen::cli {

// Applies `log` to spdlog's default logger.
void configure_logging(const config::LogConfig& log);

// The JSON line formatter: {"time":"2026-01-02T03:04:05.678Z","level":"info","msg":"...",<fields>}
// and a newline. Strings are JSON-escaped; bytes that are not UTF-8 become U+FFFD, so every line
// parses. A field named time, level or msg is written as "fields.<name>", as logrus does.
std::unique_ptr<spdlog::formatter> make_json_formatter(std::map<std::string, std::string> fields);

}  // namespace onsen::cli
