// The world the platform end-to-end tests share (built once, on first use):
// a Platform (platform_harness.h), two centers A and B with an operator each,
// tenants A and B with a member each, three agents (two simulated GPU nodes
// in center A, one in center B) that joined with tokens their operators
// created through the API, tenant A's API key and its `stories` service of
// stories260k with 2 replicas, ready. Include from tests only.
#pragma once

#include <string>
#include <vector>

#include "broker/accounts.h"
#include "common/db/pg.h"
#include "tests/e2e/platform_harness.h"

namespace scn::e2e {

struct World {
  std::unique_ptr<Platform> platform;
  std::string center_a, center_b;  // ids
  std::string tenant_a, tenant_b;
  ApiSession admin{""}, op_a{""}, op_b{""}, alice{""}, bob{""};
  std::string key_a, key_a_id;  // tenant A's API key
  std::string service_id;       // tenant A's `stories`
  std::vector<std::string> agents_a = {"a-1", "a-2"};
  std::vector<std::string> agents_b = {"b-1"};

  // A gateway session with tenant A's key.
  ApiSession gateway() const;
};

// The password of every user make_user() creates.
inline constexpr const char* kE2ePassword = "correct-horse-battery";
// Creates a user straight in PostgreSQL (a fast KDF); REQUIREs success.
void make_user(db::PgPool& pg, const std::string& name, broker::Role role, const std::string& tenant,
               const std::string& center = "");
// A session signed in as `user` (kE2ePassword); REQUIREs a 200 and a cookie.
// `logs` (e.g. process log tails) is shown when it fails.
ApiSession logged_in(const std::string& url, const std::string& user, const std::string& logs = "");

// The shared world, set up on first call; nullptr when the tests are skipped.
World* world();

// GET /api/v1/services/{id} as `who` (REQUIREs 200).
boost::json::object get_service(ApiSession& who, const std::string& id);
// The ready replicas of a service object.
std::vector<boost::json::object> ready_replicas(const boost::json::object& service);

// "Once upon a time", greedy, 48 tokens: the golden request.
std::string golden_completion_body(bool stream);
// The golden continuation (../shared/golden/stories260K-prompts.json, prompt 0).
const std::string& golden_text();

struct Streamed {
  int status = 0;
  std::vector<std::string> events;  // data payloads, "[DONE]" included
  std::string error;                // transport failure
};
Streamed stream_post(const std::string& url, const std::string& api_key, const std::string& body);

}  // namespace scn::e2e
