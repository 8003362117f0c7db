#include "cli/logging.h"

#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/request_context.h"

namespace onsen::cli {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not a valid one.
size_t utf8_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (c >= 0xF5 || n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  const unsigned char c1 = byte(i + 1);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) ||  // overlong, surrogates
      (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) {  // overlong, beyond U+10FFFF
    return 0;
  }
  return n;
}

void append(spdlog::memory_buf_t& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

}  // namespace

void append_json_string(spdlog::memory_buf_t& out, std::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_length(s, i);
      if (n == 0) {
        append(out, "\\ufffd");
        ++i;
      } else {
        append(out, s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        append(out, "\\\"");
        break;
      case '\\':
        append(out, "\\\\");
        break;
      case '\n':
        append(out, "\\n");
        break;
      case '\r':
        append(out, "\\r");
        break;
      case '\t':
        append(out, "\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

namespace {

// logrus's level names, as Distribution's JSON lines carry them.
std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warning";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "fatal";
    default:
      return "info";
  }
}

// Text lines: the request id, when the line is written for a request (base/request_context.h).
class RequestIdFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view id = base::current_request_id();
    if (id.empty()) return;
    append(dest, " http.request.id=");
    append(dest, id);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdFlag>();
  }
};

class JsonFormatter : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::map<std::string, std::string> fields)
      : fields_(std::move(fields)), tail_(json_fields(fields_)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    append_json_head(dest, msg.time, msg.level,
                     std::string_view(msg.payload.data(), msg.payload.size()));
    if (std::string_view id = base::current_request_id(); !id.empty()) {
      append(dest, ",\"http.request.id\":");
      append_json_string(dest, id);
    }
    dest.append(tail_.data(), tail_.data() + tail_.size());
    append(dest, "}\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(fields_);
  }

 private:
  std::map<std::string, std::string> fields_;
  spdlog::memory_buf_t tail_;
};

}  // namespace

void append_json_head(spdlog::memory_buf_t& out, spdlog::log_clock::time_point time,
                      spdlog::level::level_enum level, std::string_view msg) {
  using namespace std::chrono;
  const auto since_epoch = time.time_since_epoch();
  const std::time_t secs = duration_cast<seconds>(since_epoch).count();
  const auto millis = duration_cast<milliseconds>(since_epoch).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  fmt::format_to(std::back_inserter(out),
                 "{{\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"level\":\"{}\","
                 "\"msg\":",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 millis, level_name(level));
  append_json_string(out, msg);
}

spdlog::memory_buf_t json_fields(const std::map<std::string, std::string>& fields) {
  // The configured fields never change: escaped once, appended to every line as they are.
  spdlog::memory_buf_t out;
  for (const auto& [name, value] : fields) {
    out.push_back(',');
    bool reserved = name == "time" || name == "level" || name == "msg";
    append_json_string(out, reserved ? "fields." + name : name);
    out.push_back(':');
    append_json_string(out, value);
  }
  return out;
}

std::unique_ptr<spdlog::formatter> make_json_formatter(std::map<std::string, std::string> fields) {
  return std::make_unique<JsonFormatter>(std::move(fields));
}

void configure_logging(const config::LogConfig& log) {
  auto level = spdlog::level::from_str(log.level == "warn" ? "warning" : log.level);
  spdlog::set_level(level == spdlog::level::off ? spdlog::level::info : level);
  if (log.formatter == "json" || log.formatter == "logstash") {
    spdlog::set_formatter(make_json_formatter(log.fields));
  } else {
    auto text = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    text->add_flag<RequestIdFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v%*");
    spdlog::set_formatter(std::move(text));
  }
}

}  // namespace onsen::cli
