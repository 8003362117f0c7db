// The log output as log.* configures it: the level, and the line format. "text" (the default) is
// Onsen's own pattern; "json" and "logstash" (Distribution's logstash formatter writes JSON too)
// write one JSON object per line: time, level, msg, then the log.fields entries. A line written
// for a request carries its id (base/request_context.h): "... http.request.id=<id>" at the end
// of a text line, an "http.request.id" field in JSON.
#pragma once

#include <spdlog/formatter.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"

namespace onsen::cli {

// Applies `log` to spdlog's default logger.
void configure_logging(const config::LogConfig& log);

// The JSON line formatter: {"time":"2026-01-02T03:04:05.678Z","level":"info","msg":"...",<fields>}
// and a newline. Strings are JSON-escaped; bytes that are not UTF-8 become U+FFFD, so every line
// parses. A field named time, level or msg is written as "fields.<name>", as logrus does.
std::unique_ptr<spdlog::formatter> make_json_formatter(std::map<std::string, std::string> fields);

// The pieces of a JSON line, for other writers of them (cli/access_log.cpp): the start,
// {"time":...,"level":...,"msg":<msg> (no closing brace); a JSON string, quotes included; the
// log.fields entries as ',"name":"value"...'.
void append_json_head(spdlog::memory_buf_t& out, spdlog::log_clock::time_point time,
                      spdlog::level::level_enum level, std::string_view msg);
void append_json_string(spdlog::memory_buf_t& out, std::string_view s);
spdlog::memory_buf_t json_fields(const std::map<std::string, std::string>& fields);

}  // namespace onsen::cli
