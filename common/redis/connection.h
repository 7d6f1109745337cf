// Internal to common/redis: opening a hiredis connection and turning hiredis
// replies into Reply / Status. Not for use outside common/redis.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string_view>
#include <vector>

#include "common/redis/redis.h"

namespace scn::redis::detail {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

// Connects, sets the command timeout, and sends AUTH / SELECT / CLIENT
// SETNAME as `options` ask. kUnavailable when unreachable; AUTH failures as
// mapped by status_from_error().
Result<ContextPtr> open_context(const RedisOptions& options);

// Sends one command and reads its reply. When the connection failed
// (c->err set afterwards) the context must be dropped.
Result<Reply> execute(redisContext* c, const std::vector<std::string_view>& args,
                      const RedisOptions& options);

// Appends one command to the context's output buffer (no I/O).
void append(redisContext* c, const std::vector<std::string_view>& args);

// A Reply from a hiredis reply that is not an error reply.
Reply convert(const redisReply* r);

// The Status for an error reply's text ("NOSCRIPT No matching script...").
Status status_from_error(std::string_view text);

// The Status for a failed connection (c->err set).
Status status_from_context(const redisContext* c, const RedisOptions& options);

// True when the server closed an idle connection (or sent something
// unasked): it must not be used for a new command.
bool idle_connection_dropped(const redisContext* c);

}  // namespace scn::redis::detail
