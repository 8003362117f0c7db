#include "http/access_log.h"

#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <iterator>

namespace onsen::http {

namespace {

void append(fmt::memory_buffer& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

// "04/Dec/2026:04:07:41 +0000". Formatted once per second per thread: many lines share a second.
std::string_view apache_time(std::chrono::system_clock::time_point t) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_second = -1;
  thread_local char text[32];
  thread_local size_t length = 0;
  const std::time_t second = std::chrono::system_clock::to_time_t(t);
  if (second != cached_second) {
    std::tm tm{};
    gmtime_r(&second, &tm);
    auto end =
        fmt::format_to_n(text, sizeof text, "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000", tm.tm_mday,
                         kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    length = end.size;
    cached_second = second;
  }
  return {text, length};
}

// '"', '\' and bytes outside printable ASCII escaped, as gorilla does.
void append_escaped(fmt::memory_buffer& out, std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7F) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    } else {
      out.push_back(ch);
    }
  }
}

// A quoted field; "" -> "-".
void append_quoted(fmt::memory_buffer& out, std::string_view s) {
  out.push_back('"');
  if (s.empty()) out.push_back('-');
  append_escaped(out, s);
  out.push_back('"');
}

// An unquoted field (user): "-" when empty; anything but printable ASCII other than space
// escaped, so that the field stays one token.
void append_token(fmt::memory_buffer& out, std::string_view s) {
  if (s.empty()) return out.push_back('-');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F || c == '"' || c == '\\') {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    } else {
      out.push_back(ch);
    }
  }
}

}  // namespace

void append_combined_log_line(fmt::memory_buffer& out, const AccessRecord& r) {
  append(out, r.peer->unix_socket() ? std::string_view("-") : std::string_view(r.peer->address));
  append(out, " - ");
  append_token(out, r.user);
  append(out, " [");
  append(out, apache_time(r.received));
  append(out, "] ");
  if (r.method.empty()) {
    append(out, "\"-\"");
  } else {
    out.push_back('"');
    append_escaped(out, r.method);
    out.push_back(' ');
    append_escaped(out, r.target);
    append(out, r.version == 10 ? " HTTP/1.0\"" : " HTTP/1.1\"");
  }
  fmt::format_to(std::back_inserter(out), " {} {} ", r.status, r.bytes);
  append_quoted(out, r.referer);
  out.push_back(' ');
  append_quoted(out, r.user_agent);
  out.push_back(' ');
  append_quoted(out, r.id);
  out.push_back('\n');
}

void write_access_line(std::string_view line) {
  // One write: stdout is a pipe or a file opened O_APPEND (a container's log), where a write of a
  // line is not interleaved with another thread's. A failed write loses the line, never the
  // request.
  while (!line.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    line.remove_prefix(static_cast<size_t>(n));
  }
}

void write_combined_log_line(const AccessRecord& r) {
  fmt::memory_buffer line;  // inline storage (500 bytes): a typical line needs no allocation
  append_combined_log_line(line, r);
  write_access_line({line.data(), line.size()});
}

}  // namespace onsen::http
