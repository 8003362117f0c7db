#include "cli/access_log.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "cli/logging.h"

namespace onsen::cli {

namespace {

void append(spdlog::memory_buf_t& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

void append_field(spdlog::memory_buf_t& out, std::string_view name, std::string_view value) {
  fmt::format_to(std::back_inserter(out), ",\"{}\":", name);
  append_json_string(out, value);
}

void write_json_line(const http::AccessRecord& r, const spdlog::memory_buf_t& tail) {
  spdlog::memory_buf_t line;
  append_json_head(line, spdlog::log_clock::now(), spdlog::level::info,
                   r.complete ? "response completed" : "response failed");
  append_field(line, "http.request.id", r.id);
  if (!r.method.empty()) {
    append_field(line, "http.request.method", r.method);
    append_field(line, "http.request.uri", r.target);
  }
  if (r.peer->unix_socket()) {
    append_field(line, "http.request.remoteaddr", "unix");
  } else {  // host:port, as Go's RemoteAddr; the address has no character JSON escapes
    const bool v6 = r.peer->address.find(':') != std::string::npos;
    fmt::format_to(std::back_inserter(line), ",\"http.request.remoteaddr\":\"{}{}{}:{}\"",
                   v6 ? "[" : "", r.peer->address, v6 ? "]" : "", r.peer->port);
  }
  if (!r.user_agent.empty()) append_field(line, "http.request.useragent", r.user_agent);
  if (!r.referer.empty()) append_field(line, "http.request.referer", r.referer);
  const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  // The duration as Go prints one, in milliseconds (time.ParseDuration reads it back).
  fmt::format_to(std::back_inserter(line),
                 ",\"http.response.status\":{},\"http.response.written\":{},"
                 "\"http.response.duration\":\"{:.3f}ms\"",
                 r.status, r.bytes, ms);
  if (!r.user.empty()) append_field(line, "auth.user.name", r.user);
  line.append(tail.data(), tail.data() + tail.size());
  append(line, "}\n");
  http::write_access_line({line.data(), line.size()});
}

}  // namespace

std::function<void(const http::AccessRecord&)> make_access_log_writer(
    const config::LogConfig& log) {
  if (log.formatter == "json" || log.formatter == "logstash") {
    auto tail = std::make_shared<const spdlog::memory_buf_t>(json_fields(log.fields));
    return [tail](const http::AccessRecord& r) { write_json_line(r, *tail); };
  }
  return http::write_combined_log_line;
}

}  // namespace onsen::cli
