#include "broker/session_auth.h"

#include <boost/json.hpp>

#include <mutex>

#include "broker/resource_util.h"
#include "common/db/pg.h"
#include "common/log.h"
#include "common/redis/redis.h"

namespace scn::broker {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string failure_key(const BrokerContext& ctx, std::string_view username) {
  return ctx.redis_prefix + "login-fail:" + lower(username);
}

// Counts one failure atomically, starting the window at the first one.
const redis::LuaScript& count_failure_script() {
  static const redis::LuaScript script(
      "local n = redis.call('INCR', KEYS[1]) "
      "if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
      "return n");
  return script;
}

// A password hash of the current cost that no password matches, verified
// against when the user does not exist.
std::string dummy_hash(const crypto::KdfParams& kdf) {
  static std::mutex mu;
  static std::string hash;
  static crypto::KdfParams made_with{0, 0, 0};
  std::lock_guard<std::mutex> lock(mu);
  if (hash.empty() || made_with.log2_n != kdf.log2_n || made_with.r != kdf.r || made_with.p != kdf.p) {
    auto secret = crypto::random_bytes(24);
    auto h = crypto::hash_password(secret.is_ok() ? crypto::base64url(*secret) : "no user here", kdf);
    hash = h.is_ok() ? *h : "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAA";
    made_with = kdf;
  }
  return hash;
}

struct StoredUser {
  UserInfo info;
  std::string password_hash;
};

const std::string kUserSelect =
    "SELECT id::text, username, role, tenant_id::text, center_id::text, " + sql_time("created_at") +
    ", password_hash FROM users WHERE lower(username) = lower($1) AND disabled_at IS NULL"
    " AND (role <> 'member' OR tenant_id IS NOT NULL)";  // a member removed from its tenant cannot sign in

}  // namespace

std::string_view session_token(const http::Request& request) {
  std::string_view cookies = request.header("Cookie");
  while (!cookies.empty()) {
    auto semi = cookies.find(';');
    std::string_view part = cookies.substr(0, semi);
    cookies = semi == std::string_view::npos ? std::string_view() : cookies.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = part.substr(0, eq);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name != kSessionCookie) continue;
    std::string_view value = part.substr(eq + 1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return value;
  }
  return {};
}

std::string session_cookie(std::string_view token) {
  return std::string(kSessionCookie) + "=" + std::string(token) +
         "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" + std::to_string(kSessionTtlSeconds);
}

std::string cleared_session_cookie() {
  return std::string(kSessionCookie) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0";
}

int password_retry_after_s(BrokerContext& ctx, std::string_view username) {
  const std::string key = failure_key(ctx, username.substr(0, 200));
  auto failures = ctx.redis.get(key);
  if (!failures.is_ok()) {
    common::log_warn("password throttle unavailable: ", failures.status().to_string());
    return 0;
  }
  if (!failures->has_value() || std::atoll((*failures)->c_str()) < kMaxLoginFailures) return 0;
  auto ttl = ctx.redis.pttl(key);
  return ttl.is_ok() && *ttl > 0 ? static_cast<int>((*ttl + 999) / 1000) : 1;
}

void count_password_failure(BrokerContext& ctx, std::string_view username) {
  auto n = ctx.redis.run_script(
      count_failure_script(), {failure_key(ctx, username.substr(0, 200))},
      {std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(kLoginFailureWindow).count())});
  if (!n.is_ok()) common::log_warn("could not count a password failure: ", n.status().to_string());
}

void clear_password_failures(BrokerContext& ctx, std::string_view username) {
  auto cleared = ctx.redis.del({failure_key(ctx, username.substr(0, 200))});
  if (!cleared.is_ok()) common::log_warn("could not clear password failures: ", cleared.status().to_string());
}

Result<LoginOutcome> login(BrokerContext& ctx, std::string_view username, std::string_view password,
                           const std::string& client_ip, LoginFailure* failure) {
  auto fail = [&](Status st, int retry_after = 0) -> Result<LoginOutcome> {
    if (failure != nullptr) *failure = LoginFailure{st, retry_after};
    return st;
  };
  const Status bad_credentials = Status::unauthenticated("invalid username or password");
  if (int retry = password_retry_after_s(ctx, username); retry > 0) {
    return fail(Status::exhausted("too many failed logins for this user; try again in " +
                                  std::to_string(retry) + " s"),
                retry);
  }
  auto count_failure = [&]() { count_password_failure(ctx, username); };

  // Look the user up; absurd inputs are treated as an unknown user.
  std::optional<StoredUser> user;
  if (!username.empty() && username.size() <= 100 && password.size() <= 1024) {
    auto found = ctx.pg.with_tx([&](pqxx::work& tx) -> Result<std::optional<StoredUser>> {
      pqxx::result r = tx.exec_params(kUserSelect, std::string(username));
      if (r.empty()) return std::optional<StoredUser>();
      StoredUser u;
      u.info.id = r[0][0].as<std::string>();
      u.info.username = r[0][1].as<std::string>();
      auto role = parse_role(r[0][2].as<std::string>());
      u.info.role = role.is_ok() ? *role : Role::kMember;
      u.info.tenant_id = r[0][3].is_null() ? "" : r[0][3].as<std::string>();
      u.info.center_id = r[0][4].is_null() ? "" : r[0][4].as<std::string>();
      u.info.created_at = r[0][5].as<std::string>();
      u.password_hash = r[0][6].as<std::string>();
      return std::optional<StoredUser>(std::move(u));
    }, {db::Isolation::kReadCommitted, true});
    if (!found.is_ok()) return fail(found.status());
    user = std::move(found).value();
  }
  bool ok = false;
  if (user) {
    ok = crypto::verify_password(password, user->password_hash);
  } else {
    (void)crypto::verify_password(password, dummy_hash(ctx.kdf));  // same cost as a real check
  }
  if (!ok) {
    count_failure();
    return fail(bad_credentials);
  }

  SCN_ASSIGN_OR_RETURN(std::string token, crypto::new_secret("scn-sess-"));
  const std::string hash_hex = crypto::to_hex(crypto::sha256(token));
  auto session = ctx.pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    pqxx::result r = tx.exec_params(
        "INSERT INTO sessions (user_id, token_hash, expires_at) "
        "VALUES ($1::uuid, decode($2, 'hex'), now() + make_interval(secs => $3)) RETURNING id::text",
        user->info.id, hash_hex, kSessionTtlSeconds);
    tx.exec_params("UPDATE users SET last_login_at = now() WHERE id = $1::uuid", user->info.id);
    Actor actor;
    actor.kind = "user";
    actor.user_id = user->info.id;
    actor.name = user->info.username;
    actor.client_ip = client_ip;
    AuditEntry e{"session.login", "session", r[0][0].as<std::string>(), user->info.tenant_id,
                 user->info.center_id, {}};
    write_audit(tx, actor, e);
    return r[0][0].as<std::string>();
  });
  if (!session.is_ok()) return fail(session.status());
  clear_password_failures(ctx, username);
  return LoginOutcome{std::move(user->info), std::move(token), std::move(session).value()};
}

void prepare_login(const crypto::KdfParams& kdf) { (void)dummy_hash(kdf); }

Status logout(BrokerContext& ctx, const Principal& principal, const Actor& actor) {
  if (principal.kind != Principal::Kind::kUser || principal.session_id.empty()) {
    return Status::permission_denied("logout ends a login session; API keys are revoked instead");
  }
  return ctx.pg.with_tx([&](pqxx::work& tx) -> Status {
    tx.exec_params("UPDATE sessions SET revoked_at = now() WHERE id = $1::uuid AND revoked_at IS NULL",
                   principal.session_id);
    AuditEntry e{"session.logout", "session", principal.session_id, principal.tenant_id,
                 principal.center_id, {}};
    write_audit(tx, actor, e);
    return Status::ok();
  });
}

Result<Principal> authenticate_session(db::PgPool& pg, std::string_view token) {
  if (token.empty() || token.size() > 256) return Status::unauthenticated("invalid session");
  const std::string hash_hex = crypto::to_hex(crypto::sha256(token));
  return pg.with_tx([&](pqxx::work& tx) -> Result<Principal> {
    pqxx::result r = tx.exec_params(
        "SELECT s.id::text, u.id::text, u.username, u.role, u.tenant_id::text, u.center_id::text, "
        "       s.last_seen_at < now() - interval '1 minute', "
        "       u.role = 'member' AND coalesce(t.status, 'active') <> 'active' "
        "  FROM sessions s JOIN users u ON u.id = s.user_id "
        "  LEFT JOIN tenants t ON t.id = u.tenant_id "
        " WHERE s.token_hash = decode($1, 'hex') AND s.revoked_at IS NULL AND s.expires_at > now() "
        "   AND u.disabled_at IS NULL AND (u.role <> 'member' OR u.tenant_id IS NOT NULL)",
        hash_hex);
    if (r.empty()) return Status::unauthenticated("session expired or invalid; log in again");
    Principal p;
    p.kind = Principal::Kind::kUser;
    p.session_id = r[0][0].as<std::string>();
    p.user_id = r[0][1].as<std::string>();
    p.username = r[0][2].as<std::string>();
    auto role = parse_role(r[0][3].as<std::string>());
    if (!role.is_ok()) return Status::unauthenticated("invalid session");
    p.role = *role;
    p.tenant_id = r[0][4].is_null() ? "" : r[0][4].as<std::string>();
    p.center_id = r[0][5].is_null() ? "" : r[0][5].as<std::string>();
    p.tenant_suspended = r[0][7].as<bool>();
    if (r[0][6].as<bool>()) {
      tx.exec_params("UPDATE sessions SET last_seen_at = now() WHERE id = $1::uuid", p.session_id);
    }
    return p;
  });
}

Authenticator make_authenticator(db::PgPool& pg, ApiKeyCache& keys) {
  return [&pg, &keys](const http::Request& request) -> Result<Principal> {
    if (!request.header("Authorization").empty()) {
      std::string_view key = bearer_token(request);
      if (key.empty()) return Status::unauthenticated("Authorization must be 'Bearer <api key>'");
      return keys.authenticate(key);
    }
    std::string_view token = session_token(request);
    if (token.empty()) {
      return Status::unauthenticated("authentication required: log in or send 'Authorization: Bearer <api key>'");
    }
    return authenticate_session(pg, token);
  };
}

}  // namespace scn::broker
