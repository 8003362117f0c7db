// Response head formatting and the cached Date value (see wire.h).
#include "http/wire.h"

#include <boost/beast/http/status.hpp>

#include <ctime>

#include <fmt/format.h>

namespace onsen::http::detail {

std::string_view http_date() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_second = -1;
  thread_local char buf[40];
  thread_local size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    auto r = fmt::format_to_n(buf, sizeof buf, "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
                              kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12],
                              tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    len = std::min(r.size, sizeof buf);
    cached_second = now;
  }
  return {buf, len};
}

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (char ch : name) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) {
      switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~':
          ok = true;
          break;
        default:
          break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

bool valid_header_value(std::string_view value) {
  for (char ch : value) {
    if (ch == '\r' || ch == '\n' || ch == '\0') return false;
  }
  return true;
}

std::string_view reason_phrase(unsigned status) {
  namespace bh = boost::beast::http;
  auto s = bh::int_to_status(status);
  if (s == bh::status::unknown) return {};
  return bh::obsolete_reason(s);
}

namespace {

bool owned_by_transport(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
         iequals(name, "Connection") || iequals(name, "Date");
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

}  // namespace

size_t append_response_head(std::string& out, const HeadOptions& o, const Headers& headers,
                            const std::vector<std::pair<std::string, std::string>>& extra) {
  size_t dropped = 0;
  out.append(o.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char num[8];
  auto r = fmt::format_to_n(num, sizeof num, "{}", o.status % 1000);
  out.append(num, r.size);
  out.push_back(' ');
  out.append(reason_phrase(o.status));
  out.append("\r\n");

  bool has_date = false;
  for (const auto& [name, value] : headers.fields()) {
    if (!valid_header_name(name) || !valid_header_value(value)) {
      ++dropped;
      continue;
    }
    if (owned_by_transport(name)) {
      // A handler-supplied Date is kept (it may be deliberate); the others are ours.
      if (iequals(name, "Date")) {
        has_date = true;
        append_field(out, name, value);
      }
      continue;
    }
    append_field(out, name, value);
  }
  for (const auto& [name, value] : extra) {
    if (!valid_header_name(name) || !valid_header_value(value) || owned_by_transport(name)) {
      ++dropped;
      continue;
    }
    if (headers.get(name)) continue;
    append_field(out, name, value);
  }
  if (!has_date) append_field(out, "Date", http_date());
  if (o.content_length) {
    char len[24];
    auto lr = fmt::format_to_n(len, sizeof len, "{}", *o.content_length);
    out.append("Content-Length: ");
    out.append(len, lr.size);
    out.append("\r\n");
  }
  if (o.close) {
    out.append("Connection: close\r\n");
  } else if (o.keep_alive_10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  return dropped;
}

}  // namespace onsen::http::detail
