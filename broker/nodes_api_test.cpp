#include "broker/nodes_api.h"

#include <doctest/doctest.h>

#include "broker/resources_test_fixture.h"

namespace scn::broker {
namespace {

using testing::Reply;
using testing::ResourceFixture;
using testing::WakeWatcher;

TEST_CASE("nodes: operators see and manage their own center only") {
  ResourceFixture f;
  if (!f.setup()) return;
  WakeWatcher wake(f.redis_url());
  const std::string alive_key = "scn:node:" + f.node_x + ":alive";
  REQUIRE(f.redis().set(alive_key, "1", {.ttl = std::chrono::milliseconds(60000)}).is_ok());

  Reply r = f.call("admin", "GET", "/api/v1/nodes");
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("data").as_array().size() == 2);
  r = f.call("admin", "GET", "/api/v1/nodes?center_id=" + f.center_y);
  REQUIRE(r.obj().at("data").as_array().size() == 1);
  CHECK(r.obj().at("data").as_array()[0].at("name").as_string() == "node-y1");
  // Redis answers: no key, not alive, however recent the heartbeat.
  CHECK(r.obj().at("data").as_array()[0].at("alive").as_bool() == false);
  CHECK(f.call("admin", "GET", "/api/v1/nodes?center_id=bad").status == 400);

  r = f.call("op-x", "GET", "/api/v1/nodes");
  REQUIRE(r.status == 200);
  REQUIRE(r.obj().at("data").as_array().size() == 1);
  const auto& node = r.obj().at("data").as_array()[0];
  CHECK(node.at("id").as_string() == f.node_x);
  CHECK(node.at("center_name").as_string() == "center-x");
  CHECK(node.at("region").as_string() == "beijing");
  CHECK(node.at("simulated").as_bool());
  CHECK(node.at("alive").as_bool());
  CHECK(node.at("status").as_string() == "ready");
  CHECK(node.at("devices").as_array().size() == 2);
  CHECK(node.at("replicas").as_int64() == 0);
  CHECK(f.call("op-x", "GET", "/api/v1/nodes?center_id=" + f.center_x).status == 200);
  CHECK(f.call("op-x", "GET", "/api/v1/nodes?center_id=" + f.center_y).status == 403);
  CHECK(f.call("member-a", "GET", "/api/v1/nodes").status == 403);
  CHECK(f.call("member-a", "GET", "/api/v1/nodes/" + f.node_x).status == 403);

  // Another center's node is 404 on every route, and unchanged.
  const std::string y = "/api/v1/nodes/" + f.node_y;
  CHECK(f.call("op-x", "GET", y).status == 404);
  CHECK(f.call("op-x", "POST", y + "/drain").status == 404);
  CHECK(f.call("op-x", "POST", y + "/undrain").status == 404);
  CHECK(f.call("op-x", "DELETE", y).status == 404);
  CHECK(f.call("op-x", "GET", "/api/v1/nodes/not-a-uuid").status == 404);
  CHECK(f.sql1("SELECT status FROM nodes WHERE id = '" + f.node_y + "'") == "ready");
  CHECK(f.call("op-y", "GET", y).status == 200);

  // Details: replicas and models.
  const std::string x = "/api/v1/nodes/" + f.node_x;
  r = f.call("op-x", "GET", x);
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("replicas").as_array().empty());
  CHECK(r.obj().at("models").as_array().empty());

  // drain -> draining (twice is fine), undrain -> ready (only from draining).
  r = f.call("op-x", "POST", x + "/drain");
  REQUIRE(r.status == 200);
  CHECK(r.str("status") == "draining");
  CHECK(r.str("status_reason") == "drained by op-x");
  CHECK(f.call("op-x", "POST", x + "/drain").status == 200);
  r = f.call("op-x", "POST", x + "/undrain");
  CHECK(r.status == 200);
  CHECK(r.str("status") == "ready");
  CHECK(r.obj().at("status_reason").is_null());
  CHECK(f.call("op-x", "POST", x + "/undrain").status == 409);
  CHECK(wake.count(f.node_x, 3) == 3);
  CHECK(f.sql1("SELECT version FROM nodes WHERE id = '" + f.node_x + "'") == "3");
  CHECK(f.sql1("SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE center_id = '" +
               f.center_x + "'") == "node.drain,node.drain,node.undrain");

  // Remove: 204, then gone everywhere.
  CHECK(f.call("op-x", "DELETE", x).status == 204);
  CHECK(f.sql1("SELECT status FROM nodes WHERE id = '" + f.node_x + "'") == "removed");
  CHECK(f.call("op-x", "DELETE", x).status == 404);
  CHECK(f.call("op-x", "GET", x).status == 404);
  CHECK(f.call("op-x", "POST", x + "/drain").status == 404);
  CHECK(f.call("op-x", "GET", "/api/v1/nodes").obj().at("data").as_array().empty());
  CHECK(wake.count(f.node_x, 4) == 4);
  (void)f.redis().del({alive_key});
}

TEST_CASE("pool: admins only; capacity, use and free memory per center") {
  ResourceFixture f;
  if (!f.setup()) return;
  CHECK(f.call("member-a", "GET", "/api/v1/pool").status == 403);
  CHECK(f.call("op-x", "GET", "/api/v1/pool").status == 403);
  Reply s = f.call("member-a", "POST", "/api/v1/services",
                   R"({"name":"svc","model":"stories260k","replicas":2})");
  REQUIRE(s.status == 201);
  f.sql1("INSERT INTO replicas (service_id, node_id, device_id, device_indices, memory_bytes, "
         "port, state) SELECT '" + s.str("id") + "', n.id, d.id, '{0,1}', 1073741824, 21001, "
         "'ready' FROM nodes n JOIN devices d ON d.node_id = n.id WHERE n.id = '" + f.node_x +
         "' AND d.kind = 'gpu' RETURNING id");
  f.sql1("INSERT INTO replicas (service_id, state) VALUES ('" + s.str("id") +
         "', 'pending') RETURNING id");
  f.sql1("UPDATE nodes SET status = 'lost' WHERE id = '" + f.node_y + "' RETURNING id");

  Reply r = f.call("admin", "GET", "/api/v1/pool");
  REQUIRE(r.status == 200);
  const auto& centers = r.obj().at("centers").as_array();
  REQUIRE(centers.size() == 2);
  const auto& cx = centers[0].as_object();
  CHECK(cx.at("name").as_string() == "center-x");
  CHECK(cx.at("nodes").at("ready").as_int64() == 1);
  const auto& devices = cx.at("devices").as_array();
  REQUIRE(devices.size() == 2);
  const auto& gpu = devices[0];
  CHECK(gpu.at("kind").as_string() == "gpu");
  CHECK(gpu.at("model").as_string() == "H200");
  CHECK(gpu.at("simulated").as_bool());
  CHECK(gpu.at("count").as_int64() == 8);
  CHECK(gpu.at("memory_bytes").as_int64() == 8 * 151397597184LL);
  CHECK(gpu.at("used_count").as_int64() == 2);
  CHECK(gpu.at("used_memory_bytes").as_int64() == 1073741824);
  CHECK(gpu.at("free_memory_bytes").as_int64() == 8 * 151397597184LL - 1073741824);
  CHECK(devices[1].at("kind").as_string() == "cpu");
  CHECK(devices[1].at("memory_bytes").as_int64() == 17179869184LL);
  // A lost node's capacity is not counted.
  const auto& cy = centers[1].as_object();
  CHECK(cy.at("nodes").at("lost").as_int64() == 1);
  CHECK(cy.at("devices").as_array().empty());
  CHECK(r.obj().at("services").at("pending").as_int64() == 1);
  CHECK(r.obj().at("replicas").at("ready").as_int64() == 1);
  CHECK(r.obj().at("replicas").at("pending").as_int64() == 1);
}

TEST_CASE("catalog: everyone reads, admins import") {
  ResourceFixture f;
  if (!f.setup()) return;
  Reply r = f.call("member-a", "GET", "/api/v1/catalog/models");
  REQUIRE(r.status == 200);
  bool found = false;
  for (const auto& card : r.obj().at("data").as_array()) {
    if (card.at("name").as_string() != "stories260k") continue;
    found = true;
    CHECK(card.at("files").as_array()[0].at("weights_present").as_bool());
    CHECK(card.at("files").as_array()[0].as_object().contains("requirements"));
  }
  CHECK(found);
  r = f.call("op-x", "GET", "/api/v1/catalog/models/qwen2.5-7b-instruct");
  CHECK(r.status == 200);
  CHECK(r.str("name") == "qwen2.5-7b-instruct");
  CHECK(f.call("op-x", "GET", "/api/v1/catalog/models/nope").status == 404);
  CHECK(f.call("nobody", "GET", "/api/v1/catalog/models").status == 401);

  const std::string doc = R"({"version":1,"models":[{"name":"tiny","display_name":"Tiny",
    "family":"tiny","architecture":"llama","parameters":1000000,"n_layers":2,"hidden_size":64,
    "n_heads":4,"n_kv_heads":4,"head_dim":16,"context_length":512,"vocab_size":512,
    "licence":"MIT","files":[{"quantization":"F32","file_name":"tiny.gguf",
    "size_bytes":4000000,"weights_present":false}]}]})";
  CHECK(f.call("member-a", "POST", "/api/v1/catalog/import", doc).status == 403);
  CHECK(f.call("op-x", "POST", "/api/v1/catalog/import", doc).status == 403);
  CHECK(f.call("admin", "POST", "/api/v1/catalog/import", "{oops").status == 400);
  CHECK(f.call("admin", "POST", "/api/v1/catalog/import", R"({"version":1,"models":[{}]})")
            .status == 400);
  r = f.call("admin", "POST", "/api/v1/catalog/import", doc);
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("models_inserted").as_int64() == 1);
  CHECK(r.obj().at("files_inserted").as_int64() == 1);
  CHECK(f.call("member-a", "GET", "/api/v1/catalog/models/tiny").status == 200);
  CHECK(f.sql1("SELECT count(*) FROM audit_log WHERE action = 'catalog.import'") == "1");
  r = f.call("admin", "POST", "/api/v1/catalog/import", doc);
  CHECK(r.obj().at("models_unchanged").as_int64() == 1);
}

TEST_CASE("catalog: each file lists the centers whose nodes hold it") {
  ResourceFixture f;
  if (!f.setup()) return;
  const std::string file = f.sql1(
      "SELECT f.id FROM model_files f JOIN models m ON m.id = f.model_id "
      "WHERE m.name = 'stories260k' LIMIT 1");
  REQUIRE(!file.empty());
  const std::string node_x2 = f.sql1(
      "INSERT INTO nodes (center_id, name, address, secret_hash) VALUES ('" + f.center_x +
      "', 'node-x2', '127.0.0.1', sha256(gen_random_uuid()::text::bytea)) RETURNING id");
  const std::string node_y2 = f.sql1(
      "INSERT INTO nodes (center_id, name, address, status, secret_hash) VALUES ('" + f.center_y +
      "', 'node-y2', '127.0.0.1', 'removed', sha256(gen_random_uuid()::text::bytea)) RETURNING id");
  // Counted: x1 and x2 present. Not counted: y1 still downloading, y2 removed.
  f.sql1("INSERT INTO node_model_files (node_id, model_file_id, state) VALUES ('" + f.node_x +
         "', '" + file + "', 'present'), ('" + node_x2 + "', '" + file + "', 'present'), ('" +
         f.node_y + "', '" + file + "', 'downloading'), ('" + node_y2 + "', '" + file +
         "', 'present')");
  auto file_of = [&](const boost::json::value& card) -> const boost::json::object* {
    for (const auto& fv : card.at("files").as_array())
      if (fv.at("id").as_string() == file) return &fv.as_object();
    return nullptr;
  };
  auto check_presence = [&](const boost::json::object& fo) {
    const auto& in = fo.at("present_in").as_array();
    REQUIRE(in.size() == 1);
    CHECK(in[0].at("center_id").as_string() == f.center_x);
    CHECK(in[0].at("center_name").as_string() == "center-x");
    CHECK(in[0].at("nodes").as_int64() == 2);
  };
  Reply one = f.call("member-a", "GET", "/api/v1/catalog/models/stories260k");
  REQUIRE(one.status == 200);
  const auto* fo = file_of(one.body);
  REQUIRE(fo != nullptr);
  check_presence(*fo);

  Reply all = f.call("member-a", "GET", "/api/v1/catalog/models");
  REQUIRE(all.status == 200);
  for (const auto& card : all.obj().at("data").as_array()) {
    for (const auto& fv : card.at("files").as_array()) {
      if (fv.at("id").as_string() == file) check_presence(fv.as_object());
      else CHECK(fv.at("present_in").as_array().empty());
    }
  }
  // Draining still counts; once removed the center drops out.
  f.sql1("UPDATE nodes SET status = 'draining' WHERE id = '" + node_x2 + "'");
  CHECK(file_of(f.call("member-a", "GET", "/api/v1/catalog/models/stories260k").body)
            ->at("present_in").as_array()[0].at("nodes").as_int64() == 2);
  f.sql1("UPDATE nodes SET status = 'removed' WHERE id IN ('" + node_x2 + "', '" + f.node_x + "')");
  CHECK(file_of(f.call("member-a", "GET", "/api/v1/catalog/models/stories260k").body)
            ->at("present_in").as_array().empty());
}

}  // namespace
}  // namespace scn::broker
