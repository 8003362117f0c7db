// The access log: one line per request, on stdout as registry:2 writes it (gorilla's
// CombinedLoggingHandler), switched off by log.accesslog.disabled. The transport fills an
// AccessRecord once the response is written and hands it to ServerOptions::access_log_writer, or
// to write_combined_log_line (Apache's combined log format) when that is empty.
//
// The combined line: host ident user [time] "request line" status bytes "referer" "user agent",
// then the request id (quoted), which parsers of the combined format ignore as a trailing field:
//   127.0.0.1 - alice [04/Dec/2026:04:07:41 +0000] "GET /v2/ HTTP/1.1" 200 2 "-" "curl/7.88.1"
//   "4b0c…"
// ident is always "-"; user is the authenticated user or "-"; bytes are the body's; time is when
// the request's head was read, in UTC; quoted fields escape '"', '\' and control bytes as \xHH.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string_view>

#include "http/message.h"

namespace onsen::http {

struct AccessRecord {
  std::string_view id{};
  const Peer* peer = nullptr;  // never null
  std::string_view user{};     // "" = none
  std::string_view method{};   // "" when the request could not be parsed
  std::string_view target{};
  unsigned version = 11;  // 10 or 11
  std::string_view referer{}, user_agent{};
  unsigned status = 0;
  uint64_t bytes = 0;  // of the response body, as written
  std::chrono::system_clock::time_point received;
  std::chrono::steady_clock::duration duration{};  // from the head read to the response written
  bool complete = true;                            // false: writing the response failed
};

// Appends the combined log line, with its newline.
void append_combined_log_line(fmt::memory_buffer& out, const AccessRecord& r);

// Writes the line to stdout in one write(2), so concurrent lines never interleave.
void write_combined_log_line(const AccessRecord& r);

// Writes a complete line to stdout in one write(2).
void write_access_line(std::string_view line);

}  // namespace onsen::http
