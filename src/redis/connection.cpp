#include "redis/connection.h"

#include <hiredis/hiredis.h>

#include <fmt/format.h>

#include <stdexcept>

namespace onsen::redis {

namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

// One reply as text (see Connection::command); nested arrays are flattened.
void flatten(const redisReply* reply, std::vector<std::string>& out) {
  switch (reply->type) {
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < reply->elements; ++i) flatten(reply->element[i], out);
      break;
    case REDIS_REPLY_INTEGER:
      out.push_back(std::to_string(reply->integer));
      break;
    case REDIS_REPLY_NIL:
      out.emplace_back();
      break;
    default:
      out.emplace_back(reply->str, reply->len);
  }
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

}  // namespace

Connection::Connection(const Options& options) {
  const std::string& addr = options.addr;
  const timeval dial = to_timeval(options.dial_timeout);
  if (!addr.empty() && addr.front() == '/') {
    context_ = redisConnectUnixWithTimeout(addr.c_str(), dial);
  } else {
    const size_t colon = addr.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("redis.addr: expected host:port");
    std::string host = addr.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) host = "127.0.0.1";
    const std::string port = addr.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos) {
      throw std::runtime_error("redis.addr: expected host:port, got " + addr);
    }
    context_ = redisConnectWithTimeout(host.c_str(), std::stoi(port), dial);
  }
  if (!context_) throw std::runtime_error("redis: out of memory");
  if (context_->err) {
    std::string error = fmt::format("redis: connecting to {}: {}", addr, context_->errstr);
    redisFree(context_);
    throw std::runtime_error(error);
  }
  // One value for both directions: hiredis sets SO_RCVTIMEO and SO_SNDTIMEO together.
  redisSetTimeout(context_, to_timeval(std::max(options.read_timeout, options.write_timeout)));
  redisEnableKeepAlive(context_);
  try {
    if (!options.password.empty()) command({"AUTH", options.password});
    if (options.db != 0) command({"SELECT", std::to_string(options.db)});
  } catch (...) {
    redisFree(context_);
    throw;
  }
}

Connection::~Connection() {
  redisFree(context_);
}

int Connection::fd() const {
  return context_->fd;
}

bool Connection::send(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(args.size()), argv.data(),
                             lengths.data()) != REDIS_OK) {
    return false;
  }
  int done = 0;
  while (!done) {
    if (redisBufferWrite(context_, &done) != REDIS_OK) return false;
  }
  return true;
}

std::string Connection::command(const std::vector<std::string>& args) {
  if (!send(args)) throw std::runtime_error(fmt::format("redis: {}", context_->errstr));
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || !raw) {
    throw std::runtime_error(fmt::format("redis: {}", context_->errstr));
  }
  Reply reply(static_cast<redisReply*>(raw));
  if (reply->type == REDIS_REPLY_ERROR) {
    throw std::runtime_error(fmt::format("redis: {}: {}", args.front(), reply->str));
  }
  std::vector<std::string> parts;
  flatten(reply.get(), parts);
  std::string text;
  for (size_t i = 0; i < parts.size(); ++i) text += (i ? "\n" : "") + parts[i];
  return text;
}

bool Connection::read_available() {
  return redisBufferRead(context_) == REDIS_OK;
}

std::vector<std::string> Connection::next_reply(bool& got) {
  void* raw = nullptr;
  if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) {
    throw std::runtime_error(fmt::format("redis: {}", context_->errstr));
  }
  got = raw != nullptr;
  std::vector<std::string> parts;
  if (!raw) return parts;
  Reply reply(static_cast<redisReply*>(raw));
  if (reply->type == REDIS_REPLY_ERROR) {  // e.g. NOAUTH: the subscription will never start
    throw std::runtime_error(fmt::format("redis: {}", reply->str));
  }
  flatten(reply.get(), parts);
  return parts;
}

}  // namespace onsen::redis
