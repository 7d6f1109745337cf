// Authentication of people (login sessions) and the /api/v1 Authenticator.
//
// Contract (docs/API.md, "Authentication"):
//  - login() checks a username and password (crypto::verify_password). An
//    unknown user and a wrong password give the same kUnauthenticated
//    message, and an unknown user still costs one password check, so the
//    two cannot be told apart by timing. Failed logins are counted per
//    lower-cased username in Redis (`<prefix>login-fail:<username>`, TTL
//    5 min from the first failure); once 10 have failed every login of that
//    username is kResourceExhausted (429; `retry_after_s` says when) until
//    the key expires - also with the right password. A success clears the
//    count. When Redis cannot be reached logins are not throttled (logged).
//    The same count is the throttle of POST /auth/password (a wrong
//    old_password counts as a failed login of that user; once throttled the
//    change is 429 with Retry-After): password_retry_after_s() (0: may try
//    now), count_password_failure(), clear_password_failures().
//  - A successful login creates a sessions row (token_hash = SHA-256 of the
//    token "scn-sess-<43 chars>", expiry 12 h), sets users.last_login_at and
//    writes one audit row, in one transaction; the token goes into the
//    cookie session_cookie() renders.
//  - authenticate_session() accepts a live session (not revoked, not
//    expired, user not disabled); anything else is kUnauthenticated. A
//    member of a suspended tenant is accepted with tenant_suspended set
//    (they sign in and read; the router refuses their changes).
//  - make_authenticator() accepts "Authorization: Bearer <api key>" (through
//    the ApiKeyCache) or, without that header, the `scn_session` cookie.
//  - Nothing here throws; database failures are their Status (kUnavailable...).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "broker/accounts.h"
#include "broker/api_key_auth.h"
#include "broker/api_router.h"
#include "broker/broker_context.h"

namespace scn::broker {

inline constexpr std::string_view kSessionCookie = "scn_session";
inline constexpr int kSessionTtlSeconds = 12 * 3600;
inline constexpr int kMaxLoginFailures = 10;
inline constexpr std::chrono::minutes kLoginFailureWindow{5};

struct LoginOutcome {
  UserInfo user;
  std::string token;  // for the cookie; shown nowhere else
  std::string session_id;
};

struct LoginFailure {
  Status status;
  int retry_after_s = 0;  // > 0 for kResourceExhausted
};

// The password-guess throttle shared by login() and POST /auth/password,
// per lower-cased username: seconds until the next try is allowed (0: now).
int password_retry_after_s(BrokerContext& ctx, std::string_view username);
void count_password_failure(BrokerContext& ctx, std::string_view username);
void clear_password_failures(BrokerContext& ctx, std::string_view username);

// On failure `failure` (when given) also receives the Retry-After seconds.
Result<LoginOutcome> login(BrokerContext& ctx, std::string_view username, std::string_view password,
                           const std::string& client_ip, LoginFailure* failure = nullptr);
// Computes the stand-in password hash for unknown users at `kdf`'s cost now,
// so that the first failed login is not slower than the others.
void prepare_login(const crypto::KdfParams& kdf);
// Revokes the principal's session (kPermissionDenied for an API key).
Status logout(BrokerContext& ctx, const Principal& principal, const Actor& actor);

Result<Principal> authenticate_session(db::PgPool& pg, std::string_view token);

// The value of the `scn_session` cookie of `request` ("" when absent).
std::string_view session_token(const http::Request& request);
// Set-Cookie values that set and clear the session cookie.
std::string session_cookie(std::string_view token);
std::string cleared_session_cookie();

// Bearer API key, else session cookie. `keys` must outlive the result.
Authenticator make_authenticator(db::PgPool& pg, ApiKeyCache& keys);

}  // namespace scn::broker
