// Slurm-managed nodes as the broker shows them (issue 10): "managed_by" and
// "slurm" in the node JSON, and a center degraded in GET /pool while its
// Slurm controller is unreachable.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "broker/nodes_api.h"
#include "broker/pool_api.h"
#include "broker/resources_test_fixture.h"
#include "common/db/test_db.h"
#include "tests/testing.h"

namespace scn::broker {
namespace {

using testing::Reply;
using testing::ResourceFixture;

void make_slurm(ResourceFixture& f, const std::string& node, const std::string& controller) {
  f.sql1("UPDATE nodes SET managed_by = 'slurm', slurm = jsonb_build_object('node', 'cn01', "
         "'partition', 'scn', 'state', 'mixed+drain', 'reason', 'bad dimm', 'controller', '" +
         controller + "', 'free_cpu_cores', 3), status = 'draining', "
         "status_reason = 'slurm: drain: bad dimm' WHERE id = '" + node + "' RETURNING id");
}

TEST_CASE("slurm nodes: the node JSON carries managed_by and Slurm's view") {
  ResourceFixture f;
  if (!f.setup()) return;
  make_slurm(f, f.node_x, "ok");

  Reply r = f.call("admin", "GET", "/api/v1/nodes");
  REQUIRE(r.status == 200);
  const auto& data = r.obj().at("data").as_array();
  REQUIRE(data.size() == 2);
  for (const auto& v : data) {
    const auto& n = v.as_object();
    CAPTURE(n.at("name").as_string());
    if (n.at("id").as_string() == f.node_x) {
      CHECK(n.at("managed_by").as_string() == "slurm");
      CHECK(n.at("status").as_string() == "draining");
      CHECK(n.at("status_reason").as_string() == "slurm: drain: bad dimm");
      const auto& s = n.at("slurm").as_object();
      CHECK(s.size() == 5);  // free_* stay inside the scheduler
      CHECK(s.at("node").as_string() == "cn01");
      CHECK(s.at("partition").as_string() == "scn");
      CHECK(s.at("state").as_string() == "mixed+drain");
      CHECK(s.at("reason").as_string() == "bad dimm");
      CHECK(s.at("controller").as_string() == "ok");
    } else {
      CHECK(n.at("managed_by").as_string() == "agent");
      CHECK(n.at("slurm").is_null());
    }
  }
  r = f.call("op-x", "GET", "/api/v1/nodes/" + f.node_x);
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("managed_by").as_string() == "slurm");
  CHECK(r.obj().at("slurm").at("state").as_string() == "mixed+drain");
  // An operator's undrain works as for any node (Slurm drains it again on its next heartbeat).
  r = f.call("op-x", "POST", "/api/v1/nodes/" + f.node_x + "/undrain");
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("status").as_string() == "ready");
  CHECK(r.obj().at("managed_by").as_string() == "slurm");
}

TEST_CASE("slurm nodes: a center whose Slurm controller is unreachable is degraded in the pool") {
  ResourceFixture f;
  if (!f.setup()) return;
  make_slurm(f, f.node_x, "ok");
  auto pool = pool_overview(f.ctx().pg);
  REQUIRE_MESSAGE(pool.is_ok(), pool.status().to_string());
  auto center = [&](const boost::json::object& body, const std::string& id) {
    for (const auto& c : body.at("centers").as_array())
      if (c.at("id").as_string() == id) return c.as_object();
    FAIL("center " << id << " missing");
    return boost::json::object();
  };
  auto cx = center(*pool, f.center_x);
  CHECK(cx.at("slurm_nodes").as_int64() == 1);
  CHECK(cx.at("degraded").as_bool() == false);
  CHECK(cx.at("degraded_reason").as_string() == "");
  CHECK(cx.at("nodes").at("draining").as_int64() == 1);
  CHECK(center(*pool, f.center_y).at("slurm_nodes").as_int64() == 0);

  f.sql1("UPDATE nodes SET slurm = jsonb_set(slurm, '{controller}', '\"unreachable\"') WHERE id = '" +
         f.node_x + "' RETURNING id");
  Reply r = f.call("admin", "GET", "/api/v1/pool");
  REQUIRE(r.status == 200);
  cx = center(r.obj(), f.center_x);
  CHECK(cx.at("degraded").as_bool());
  CHECK(cx.at("degraded_reason").as_string() ==
        "Slurm controller unreachable (reported for 1 of 1 Slurm nodes)");
  auto cy = center(r.obj(), f.center_y);
  CHECK(cy.at("degraded").as_bool() == false);
  r = f.call("admin", "GET", "/api/v1/nodes/" + f.node_x);
  CHECK(r.obj().at("slurm").at("controller").as_string() == "unreachable");
}

TEST_CASE("slurm nodes: the schema keeps managed_by and slurm consistent") {
  ResourceFixture f;
  if (!f.setup()) return;
  struct Case {
    const char* what;
    std::string set;
  };
  for (const Case& c : {Case{"unknown managed_by", "managed_by = 'pbs'"},
                        Case{"slurm without its view", "managed_by = 'slurm'"},
                        Case{"a view on a plain node", "slurm = '{}'::jsonb"},
                        Case{"a view that is no object", "managed_by = 'slurm', slurm = '[]'::jsonb"}}) {
    CAPTURE(c.what);
    auto r = f.ctx().pg.with_tx([&](pqxx::work& tx) -> Result<int> {
      tx.exec("UPDATE nodes SET " + c.set + " WHERE id = '" + f.node_y + "'");
      return 0;
    });
    CHECK(!r.is_ok());
  }
}

// `scn admin [--json] list nodes` (the real binary) against a migrated database.
std::string admin_list_nodes(const std::string& pg_url, bool json) {
  scn::testing::TempDir dir;
  const std::string cmd = "'" + scn::testing::scn_binary() + "' admin --pg-url '" + pg_url + "'" +
                          (json ? " --json" : "") + " list nodes >'" + dir.file("out") + "' 2>'" + dir.file("err") + "'";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(dir.file("out"));
  std::stringstream ss;
  ss << in.rdbuf();
  REQUIRE_MESSAGE((WIFEXITED(rc) && WEXITSTATUS(rc) == 0), ss.str());
  return ss.str();
}

TEST_CASE("slurm nodes: scn admin list nodes shows who manages each node") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  auto exec = [&](const std::string& sql) {
    auto r = db->pool->with_tx([&](pqxx::work& tx) -> Result<int> {
      tx.exec(sql);
      return 0;
    });
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  };
  exec("INSERT INTO centers (name, region) VALUES ('hpc-1', 'tianjin')");
  exec("INSERT INTO nodes (center_id, name, address, secret_hash, managed_by, slurm) "
       "SELECT id, 'cn01', 'login-1', sha256('a'::bytea), 'slurm', '{\"node\":\"cn01\",\"partition\":\"scn\","
       "\"state\":\"mixed\",\"reason\":\"\",\"controller\":\"unreachable\"}' FROM centers");
  exec("INSERT INTO nodes (center_id, name, address, secret_hash) "
       "SELECT id, 'plain-1', '10.0.0.2', sha256('b'::bytea) FROM centers");
  const std::string url = db->db->url();
  auto list = common::parse_json_object(admin_list_nodes(url, true));
  REQUIRE(list.is_ok());
  const auto& data = list->at("data").as_array();
  REQUIRE(data.size() == 2);
  CHECK(data[0].at("name").as_string() == "cn01");
  CHECK(data[0].at("managed_by").as_string() == "slurm");
  CHECK(data[0].at("slurm").at("partition").as_string() == "scn");
  CHECK(data[0].at("slurm").at("controller").as_string() == "unreachable");
  CHECK(data[1].at("managed_by").as_string() == "agent");
  CHECK(data[1].at("slurm").is_null());
  const std::string table = admin_list_nodes(url, false);
  CHECK(table.find("MANAGED BY") != std::string::npos);
  CHECK(table.find("slurm (mixed, controller unreachable)") != std::string::npos);
}

}  // namespace
}  // namespace scn::broker
