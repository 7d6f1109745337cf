// What every part of the broker shares: the database, Redis, and settings.
// Built once by `scn broker` (broker_main.cpp) and outliving every handler.
#pragma once

#include <string>

#include "common/crypto/crypto.h"

namespace scn::db {
class PgPool;
}
namespace scn::redis {
class RedisClient;
}

namespace scn::broker {

struct BrokerContext {
  db::PgPool& pg;
  redis::RedisClient& redis;  // shared (one connection, mutex): small commands only
  std::string redis_url;      // for subscribers and per-thread clients
  crypto::KdfParams kdf;      // password hashing cost (tests lower it)
  // Prefix of the broker's own Redis keys ("scn:login-fail:..."); tests use
  // a unique one because they share one Redis server.
  std::string redis_prefix = "scn:";
};

}  // namespace scn::broker
