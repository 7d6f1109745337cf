// The heartbeat answer's worker_secret (docs/API.md, "Worker
// authentication"): each desired replica carries hex(HMAC-SHA256(cluster
// key, replica_id)), the key being the database's one cluster key.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "common/crypto/worker_secret.h"
#include "scheduler/service/reconciler.h"
#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;

TEST_CASE("heartbeat: every desired replica carries its worker_secret, derived from the cluster key") {
  auto env = make_env();
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  heartbeat(*env, p.n2, p.s2);
  add_service(env->pool(), p.tenant, p.file, "chat", 2, R"({"device_kind":"cpu"})");
  env->reconciler->became_leader();
  REQUIRE(env->reconciler->run_cycle().placement.placed == 2);

  auto key = crypto::load_cluster_key(env->pool());  // the same key the scheduler used
  REQUIRE_MESSAGE(key.is_ok(), key.status().to_string());
  std::set<std::string> secrets;
  for (const auto& [node, secret] : {std::pair{p.n1, p.s1}, std::pair{p.n2, p.s2}}) {
    auto answer = heartbeat(*env, node, secret);
    for (const auto& r : answer.at("replicas").as_array()) {
      const auto& o = r.as_object();
      const std::string id(o.at("replica_id").as_string());
      REQUIRE(o.contains("worker_secret"));
      const std::string ws(o.at("worker_secret").as_string());
      CHECK(ws.size() == 64);
      CHECK(ws == crypto::worker_secret(*key, id));
      secrets.insert(ws);
    }
  }
  CHECK(secrets.size() == 2);  // one per replica
  // One cluster key per database, created once.
  CHECK(one(env->pool(), "SELECT count(*) FROM cluster_secrets") == "1");
}

}  // namespace
}  // namespace scn::scheduler
