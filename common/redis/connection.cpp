#include "common/redis/connection.h"

#include <poll.h>
#include <sys/time.h>

#include <cstring>
#include <string>

namespace scn::redis::detail {
namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  auto ms = std::max<long long>(1, d.count());
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

std::string endpoint(const RedisOptions& o) { return o.host + ":" + std::to_string(o.port); }

}  // namespace

Result<ContextPtr> open_context(const RedisOptions& options) {
  ContextPtr c(redisConnectWithTimeout(options.host.c_str(), options.port,
                                       to_timeval(options.connect_timeout)));
  if (!c) return Status::unavailable("redis: cannot allocate a connection");
  if (c->err) {
    return Status::unavailable("redis: cannot connect to " + endpoint(options) + ": " +
                               std::string(c->errstr));
  }
  if (redisSetTimeout(c.get(), to_timeval(options.command_timeout)) != REDIS_OK) {
    return Status::unavailable("redis: cannot set the timeout: " + std::string(c->errstr));
  }
  if (!options.password.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!options.username.empty()) auth.push_back(options.username);
    auth.push_back(options.password);
    auto r = execute(c.get(), auth, options);
    if (!r.is_ok() && r.status().code() != Code::kUnavailable) {
      return Status::unauthenticated("redis: AUTH refused by " + endpoint(options) + ": " +
                                     r.status().message());
    }
    SCN_RETURN_IF_ERROR(r);
  }
  if (options.db != 0) {
    std::string db = std::to_string(options.db);
    SCN_RETURN_IF_ERROR(execute(c.get(), {"SELECT", db}, options));
  }
  if (!options.client_name.empty()) {
    SCN_RETURN_IF_ERROR(execute(c.get(), {"CLIENT", "SETNAME", options.client_name}, options));
  }
  return c;
}

void append(redisContext* c, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data());
}

Result<Reply> execute(redisContext* c, const std::vector<std::string_view>& args,
                      const RedisOptions& options) {
  if (args.empty()) return Status::invalid_argument("redis: empty command");
  append(c, args);
  void* raw = nullptr;
  if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
    if (raw) freeReplyObject(raw);
    return status_from_context(c, options);
  }
  auto* r = static_cast<redisReply*>(raw);
  Result<Reply> out = r->type == REDIS_REPLY_ERROR
                          ? Result<Reply>(status_from_error(std::string_view(r->str, r->len)))
                          : Result<Reply>(convert(r));
  freeReplyObject(r);
  return out;
}

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        const redisReply* e = r->element[i];
        if (e->type == REDIS_REPLY_ERROR) {  // inside MULTI/EXEC results: keep the text
          Reply err;
          err.type = Reply::Type::kStatus;
          err.str.assign(e->str, e->len);
          out.elements.push_back(std::move(err));
        } else {
          out.elements.push_back(convert(e));
        }
      }
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

Status status_from_error(std::string_view text) {
  std::string msg = "redis: " + std::string(text);
  auto starts = [&](std::string_view p) { return text.substr(0, p.size()) == p; };
  if (starts("NOSCRIPT")) return Status::not_found(msg);
  if (starts("WRONGTYPE")) return Status::conflict(msg);
  if (starts("NOAUTH") || starts("WRONGPASS") || starts("NOPERM") ||
      text.find("invalid password") != std::string_view::npos)
    return Status::unauthenticated(msg);
  if (starts("LOADING") || starts("BUSY") || starts("MASTERDOWN") || starts("TRYAGAIN") ||
      starts("CLUSTERDOWN") || starts("READONLY"))
    return Status::unavailable(msg);
  if (starts("OOM")) return Status::exhausted(msg);
  return Status::internal(msg);
}

Status status_from_context(const redisContext* c, const RedisOptions& options) {
  std::string err = c->errstr[0] ? c->errstr : "connection failed";
  if (c->err == REDIS_ERR_IO && (err.find("temporarily unavailable") != std::string::npos ||
                                 err.find("timed out") != std::string::npos)) {
    return Status::unavailable("redis: no reply from " + endpoint(options) + " within " +
                               std::to_string(options.command_timeout.count()) + " ms");
  }
  if (c->err == REDIS_ERR_EOF) {
    return Status::unavailable("redis: " + endpoint(options) + " closed the connection");
  }
  return Status::unavailable("redis: " + endpoint(options) + ": " + err);
}

bool idle_connection_dropped(const redisContext* c) {
  if (c->err || c->fd < 0) return true;
  pollfd p{c->fd, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;  // readable (EOF or unasked data), hung up, or poll failed
}

}  // namespace scn::redis::detail
