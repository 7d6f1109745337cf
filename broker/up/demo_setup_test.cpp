// The demo pool's accounts and catalog, written twice into a fresh database:
// the second run finds everything and creates nothing but fresh join tokens.
#include "broker/up/demo_setup.h"

#include <doctest/doctest.h>

#include "broker/accounts.h"
#include "common/db/test_db.h"

namespace scn::broker {
namespace {

constexpr crypto::KdfParams kCheap{10, 8, 1};

std::int64_t count(db::PgPool& pg, const std::string& q) {
  auto r =
      pg.with_tx([&](pqxx::work& tx) -> Result<std::int64_t> { return tx.exec1(q)[0].as<std::int64_t>(); });
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return r.value();
}

TEST_CASE("scn up: demo catalog and accounts are created once, found on a rerun") {
  auto t = db::testing::make_test_database();
  if (!t) return;
  db::PgPool& pg = **t;
  Status st = import_demo_catalog(pg, scn::testing::shared_dir());
  REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  const auto models = count(pg, "SELECT count(*) FROM models");
  CHECK(models >= 10);
  CHECK(count(pg, "SELECT count(*) FROM models WHERE name = 'stories260k'") == 1);

  UpCredentials creds;
  auto first = ensure_demo_accounts(pg, creds, kCheap);
  REQUIRE_MESSAGE(first.is_ok(), first.status().to_string());
  const DemoPlan& plan = demo_plan();
  CHECK(first->center_ids.size() == plan.centers.size());
  CHECK(first->join_tokens.size() == plan.centers.size());
  for (const auto& [center, token] : first->join_tokens) CHECK(token.rfind("scn-join-", 0) == 0);
  // admin + an operator per center + the demo member, each with a password.
  CHECK(creds.passwords.size() == plan.centers.size() + 2);
  auto op = find_user(pg, plan.centers[0].operator_name());
  REQUIRE(op.is_ok());
  CHECK(op->role == Role::kOperator);
  CHECK(op->center_id == first->center_ids.at(plan.centers[0].name));
  auto member = find_user(pg, plan.member);
  REQUIRE(member.is_ok());
  CHECK(member->tenant_id == first->tenant_id);

  const auto users = count(pg, "SELECT count(*) FROM users");
  const auto centers = count(pg, "SELECT count(*) FROM centers");
  const auto tenants = count(pg, "SELECT count(*) FROM tenants");
  const auto passwords = creds.passwords;
  REQUIRE(import_demo_catalog(pg, scn::testing::shared_dir()).is_ok());
  auto second = ensure_demo_accounts(pg, creds, kCheap);
  REQUIRE_MESSAGE(second.is_ok(), second.status().to_string());
  CHECK(second->tenant_id == first->tenant_id);
  CHECK(second->center_ids == first->center_ids);
  CHECK(second->join_tokens != first->join_tokens);  // fresh ones
  CHECK(creds.passwords == passwords);
  CHECK(count(pg, "SELECT count(*) FROM users") == users);
  CHECK(count(pg, "SELECT count(*) FROM centers") == centers);
  CHECK(count(pg, "SELECT count(*) FROM tenants") == tenants);
  CHECK(count(pg, "SELECT count(*) FROM models") == models);
}

TEST_CASE("scn up: a wrong shared folder is named in the error") {
  auto t = db::testing::make_test_database();
  if (!t) return;
  Status st = import_demo_catalog(**t, "/nonexistent/shared");
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.message().find("/nonexistent/shared") != std::string::npos);
}

}  // namespace
}  // namespace scn::broker
