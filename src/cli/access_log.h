// The access log's line shape, by log.formatter: "text" writes Apache's combined log format (as
// registry:2's access log; http/access_log.h), "json" and "logstash" one JSON object per request
// with Distribution's field names (its "response completed" line):
//   {"time":"...","level":"info","msg":"response completed","http.request.id":"...",
//    "http.request.method":"GET","http.request.uri":"/v2/","http.request.remoteaddr":"127.0.0.1:4711",
//    "http.request.useragent":"...","http.response.status":200,"http.response.written":2,
//    "http.response.duration":"0.412ms","auth.user.name":"alice",<log.fields>}
// (auth.user.name only with a user; useragent only when sent; msg "response failed" when writing
// the response failed). Both go to stdout, one write per line.
#pragma once

#include <functional>

#include "config/config.h"
#include "http/access_log.h"

namespace onsen::cli {

// The writer for http::ServerOptions::access_log_writer.
std::function<void(const http::AccessRecord&)> make_access_log_writer(const config::LogConfig& log);

}  // namespace onsen::cli
