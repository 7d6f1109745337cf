#include "common/redis/redis.h"

#include <openssl/evp.h>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "common/redis/connection.h"

namespace scn::redis {

Result<RedisOptions> parse_redis_url(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("invalid Redis URL '" + std::string(url) + "': " + why);
  };
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return bad(parsed.error().message());
  const boost::urls::url_view& u = *parsed;
  std::string scheme = u.scheme();
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "redis") return bad("the scheme must be redis:// (rediss:// is not supported)");
  RedisOptions o;
  if (u.host_type() == boost::urls::host_type::ipv6) {
    o.host = u.host_ipv6_address().to_string();
  } else {
    o.host = u.host();
  }
  if (o.host.empty()) return bad("no host");
  if (u.has_port()) {
    if (u.port_number() == 0) return bad("the port must be 1-65535");
    o.port = u.port_number();
  }
  std::string path = u.path();
  if (!path.empty() && path != "/") {
    std::string_view digits = std::string_view(path).substr(1);
    int db = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), db);
    if (path[0] != '/' || digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        db < 0)
      return bad("the path must be /<database number>");
    o.db = db;
  }
  if (u.has_userinfo()) {
    o.username = u.user();
    if (u.has_password()) o.password = u.password();
    if (o.password.empty() && !o.username.empty()) return bad("a user without a password");
  }
  if (u.has_query() || u.has_fragment()) return bad("query and fragment are not supported");
  return o;
}

std::string Reply::debug_string() const {
  switch (type) {
    case Type::kNil:
      return "nil";
    case Type::kString:
      return "\"" + str + "\"";
    case Type::kStatus:
      return str;
    case Type::kInteger:
      return std::to_string(integer);
    case Type::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i) out += ", ";
        out += elements[i].debug_string();
      }
      return out + "]";
    }
  }
  return "?";
}

LuaScript::LuaScript(std::string source) : source_(std::move(source)) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(source_.data(), source_.size(), digest, &len, EVP_sha1(), nullptr);
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    sha1_ += buf;
  }
}

// ---- RedisClient --------------------------------------------------------------

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

RedisClient::~RedisClient() {
  std::lock_guard lock(mu_);
  disconnect();
}

Result<std::unique_ptr<RedisClient>> RedisClient::connect(std::string_view url) {
  SCN_ASSIGN_OR_RETURN(RedisOptions options, parse_redis_url(url));
  return connect(std::move(options));
}

Result<std::unique_ptr<RedisClient>> RedisClient::connect(RedisOptions options) {
  std::unique_ptr<RedisClient> client(new RedisClient(std::move(options)));
  {
    std::lock_guard lock(client->mu_);
    SCN_RETURN_IF_ERROR(client->ensure_connected());
  }
  return client;
}

void RedisClient::disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

Status RedisClient::ensure_connected() {
  if (ctx_ && !detail::idle_connection_dropped(ctx_)) return Status::ok();
  disconnect();
  SCN_ASSIGN_OR_RETURN(detail::ContextPtr c, detail::open_context(options_));
  ctx_ = c.release();
  return Status::ok();
}

Result<Reply> RedisClient::run(const std::vector<std::string_view>& args) {
  std::lock_guard lock(mu_);
  SCN_RETURN_IF_ERROR(ensure_connected());
  Result<Reply> r = detail::execute(ctx_, args, options_);
  if (ctx_->err) disconnect();  // reconnect on the next call
  return r;
}

Result<Reply> RedisClient::command(const std::vector<std::string>& args) {
  return run(std::vector<std::string_view>(args.begin(), args.end()));
}

namespace {

Status unexpected(const char* command, const Reply& r) {
  return Status::internal(std::string("redis: unexpected reply to ") + command + ": " +
                          r.debug_string());
}

std::vector<std::string_view> script_args(std::string_view head, std::string_view script,
                                          const std::vector<std::string>& keys,
                                          const std::vector<std::string>& args,
                                          std::string& numkeys) {
  numkeys = std::to_string(keys.size());
  std::vector<std::string_view> v = {head, script, numkeys};
  v.insert(v.end(), keys.begin(), keys.end());
  v.insert(v.end(), args.begin(), args.end());
  return v;
}

}  // namespace

Status RedisClient::ping() {
  SCN_ASSIGN_OR_RETURN(Reply r, run({"PING"}));
  if (r.str != "PONG") return unexpected("PING", r);
  return Status::ok();
}

Result<std::optional<std::string>> RedisClient::get(std::string_view key) {
  SCN_ASSIGN_OR_RETURN(Reply r, run({"GET", key}));
  if (r.is_nil()) return std::optional<std::string>();
  if (!r.is_string()) return unexpected("GET", r);
  return std::optional<std::string>(std::move(r.str));
}

Result<bool> RedisClient::set(std::string_view key, std::string_view value,
                              const SetOptions& options) {
  std::vector<std::string_view> args = {"SET", key, value};
  std::string ms;
  if (options.ttl) {
    if (options.ttl->count() <= 0) return Status::invalid_argument("redis: SET ttl must be > 0");
    ms = std::to_string(options.ttl->count());
    args.push_back("PX");
    args.push_back(ms);
  }
  if (options.condition == SetOptions::Condition::kIfAbsent) args.push_back("NX");
  if (options.condition == SetOptions::Condition::kIfPresent) args.push_back("XX");
  SCN_ASSIGN_OR_RETURN(Reply r, run(args));
  if (r.is_nil()) return false;
  if (r.str != "OK") return unexpected("SET", r);
  return true;
}

Result<long long> RedisClient::del(const std::vector<std::string>& keys) {
  if (keys.empty()) return 0LL;
  std::vector<std::string_view> args = {"DEL"};
  args.insert(args.end(), keys.begin(), keys.end());
  SCN_ASSIGN_OR_RETURN(Reply r, run(args));
  if (!r.is_integer()) return unexpected("DEL", r);
  return r.integer;
}

Result<bool> RedisClient::expire(std::string_view key, std::chrono::milliseconds ttl) {
  std::string ms = std::to_string(ttl.count());
  SCN_ASSIGN_OR_RETURN(Reply r, run({"PEXPIRE", key, ms}));
  if (!r.is_integer()) return unexpected("PEXPIRE", r);
  return r.integer == 1;
}

Result<long long> RedisClient::pttl(std::string_view key) {
  SCN_ASSIGN_OR_RETURN(Reply r, run({"PTTL", key}));
  if (!r.is_integer()) return unexpected("PTTL", r);
  return r.integer;
}

Result<long long> RedisClient::incr_by(std::string_view key, long long delta) {
  std::string d = std::to_string(delta);
  SCN_ASSIGN_OR_RETURN(Reply r, run({"INCRBY", key, d}));
  if (!r.is_integer()) return unexpected("INCRBY", r);
  return r.integer;
}

Result<long long> RedisClient::hset(std::string_view key,
                                    const std::vector<std::pair<std::string, std::string>>& fields) {
  if (fields.empty()) return Status::invalid_argument("redis: HSET needs at least one field");
  std::vector<std::string_view> args = {"HSET", key};
  for (const auto& [f, v] : fields) {
    args.push_back(f);
    args.push_back(v);
  }
  SCN_ASSIGN_OR_RETURN(Reply r, run(args));
  if (!r.is_integer()) return unexpected("HSET", r);
  return r.integer;
}

Result<std::map<std::string, std::string>> RedisClient::hgetall(std::string_view key) {
  SCN_ASSIGN_OR_RETURN(Reply r, run({"HGETALL", key}));
  if (!r.is_array() || r.elements.size() % 2 != 0) return unexpected("HGETALL", r);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    out[std::move(r.elements[i].str)] = std::move(r.elements[i + 1].str);
  }
  return out;
}

Result<Reply> RedisClient::eval(std::string_view script, const std::vector<std::string>& keys,
                                const std::vector<std::string>& args) {
  std::string numkeys;
  return run(script_args("EVAL", script, keys, args, numkeys));
}

Result<Reply> RedisClient::evalsha(std::string_view sha1, const std::vector<std::string>& keys,
                                   const std::vector<std::string>& args) {
  std::string numkeys;
  return run(script_args("EVALSHA", sha1, keys, args, numkeys));
}

Result<std::string> RedisClient::script_load(std::string_view script) {
  SCN_ASSIGN_OR_RETURN(Reply r, run({"SCRIPT", "LOAD", script}));
  if (!r.is_string()) return unexpected("SCRIPT LOAD", r);
  return std::move(r.str);
}

Result<Reply> RedisClient::run_script(const LuaScript& script, const std::vector<std::string>& keys,
                                      const std::vector<std::string>& args) {
  Result<Reply> r = evalsha(script.sha1(), keys, args);
  if (r.is_ok() || r.status().code() != Code::kNotFound) return r;
  return eval(script.source(), keys, args);  // EVAL also caches it for the next EVALSHA
}

Result<long long> RedisClient::publish(std::string_view channel, std::string_view message) {
  SCN_ASSIGN_OR_RETURN(Reply r, run({"PUBLISH", channel, message}));
  if (!r.is_integer()) return unexpected("PUBLISH", r);
  return r.integer;
}

Status RedisClient::flushdb() {
  SCN_ASSIGN_OR_RETURN(Reply r, run({"FLUSHDB"}));
  if (r.str != "OK") return unexpected("FLUSHDB", r);
  return Status::ok();
}

}  // namespace scn::redis
