// Test support for the resource endpoints (include from *_test.cpp only: it
// uses doctest). A scratch database with two tenants (A: max 4 replicas, B),
// two centers (X, Y) with one node each, the demo catalog imported, and the
// routes of resources_api.h served over real HTTP. Callers are named by the
// header X-Test-Principal: admin, op-x, op-y, member-a, member-b.
#pragma once

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "broker/api_router.h"
#include "broker/broker_context.h"
#include "broker/console_api.h"
#include "broker/resource_util.h"
#include "broker/resources_api.h"
#include "catalog/catalog_file.h"
#include "catalog/catalog_store.h"
#include "common/db/test_db.h"
#include "common/http/client.h"
#include "common/http/server.h"
#include "common/json.h"
#include "common/redis/redis.h"
#include "common/redis/test_redis.h"
#include "tests/testing.h"

namespace scn::broker::testing {

struct Reply {
  int status = 0;
  boost::json::value body;
  const boost::json::object& obj() const { return body.as_object(); }
  std::string str(std::string_view key) const {
    return boost::json::value_to<std::string>(body.at(key));
  }
  std::string error_type() const { return str_at("type"); }
  std::string error_param() const { return str_at("param"); }

 private:
  std::string str_at(std::string_view key) const {
    if (!body.is_object() || !body.as_object().contains("error")) return "";
    const auto& v = body.at("error").at(key);
    return v.is_string() ? std::string(v.as_string()) : "";
  }
};

class ResourceFixture {
 public:
  // False (after a loud skip, or a failure in CI) when PostgreSQL, Redis or
  // ../shared are missing.
  bool setup() {
    auto db = db::testing::make_test_database();
    if (!db) return false;
    auto redis_url = redis::testing::redis_url_for_tests();
    if (!redis_url) return false;
    if (!std::filesystem::exists(scn::testing::shared_path("models/stories260K.gguf"))) {
      if (scn::testing::in_ci()) FAIL("missing ../shared/models/stories260K.gguf");
      MESSAGE("SKIPPED: no ../shared");
      return false;
    }
    db_.emplace(std::move(*db));
    auto redis = redis::RedisClient::connect(*redis_url);
    REQUIRE_MESSAGE(redis.is_ok(), redis.status().to_string());
    redis_ = std::move(redis).value();
    redis_url_ = *redis_url;
    ctx_ = std::make_unique<BrokerContext>(BrokerContext{*db_->pool, *redis_, *redis_url, {}});
    seed();
    router_ = std::make_unique<ApiRouter>([this](const http::Request& req) -> Result<Principal> {
      auto it = principals_.find(std::string(req.header("X-Test-Principal")));
      if (it == principals_.end()) return Status::unauthenticated("no test principal");
      return it->second;
    });
    add_resource_routes(*router_, *ctx_);
    add_console_routes(*router_, *ctx_, ConsoleConfig{"http://scheduler.test:7000"});
    server_ = std::make_unique<http::Server>();
    router_->mount(*server_);
    Status st = server_->start();
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    return true;
  }

  ~ResourceFixture() {
    if (server_) {
      server_->stop();
      server_->wait();
    }
  }

  Reply call(const std::string& who, const std::string& method, const std::string& path,
             const std::string& body = "") {
    http::Headers headers{{"X-Test-Principal", who}};
    if (!body.empty()) headers.set("Content-Type", "application/json");
    auto r = http::request(method, base_ + path, body, headers);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    Reply out;
    out.status = r->status;
    if (!r->body.empty()) {
      auto v = common::parse_json(r->body);
      REQUIRE_MESSAGE(v.is_ok(), r->body);
      out.body = *v;
    }
    return out;
  }

  std::string sql1(const std::string& query) {
    auto r = db_->pool->with_tx([&](pqxx::work& tx) -> Result<std::string> {
      pqxx::result rows = tx.exec(query);  // the first column of the first row, or ""
      if (rows.empty() || rows[0][0].is_null()) return std::string();
      return rows[0][0].as<std::string>();
    });
    const std::string what = r.status().to_string() + ": " + query;
    REQUIRE_MESSAGE(r.is_ok(), what);
    return *r;
  }

  BrokerContext& ctx() { return *ctx_; }
  const std::string& base_url() const { return base_; }
  redis::RedisClient& redis() { return *redis_; }
  const std::string& redis_url() const { return redis_url_; }

  std::string tenant_a, tenant_b, center_x, center_y, node_x, node_y;

 private:
  void seed() {
    tenant_a = sql1("INSERT INTO tenants (name, display_name, max_replicas) "
                    "VALUES ('tenant-a', 'A', 4) RETURNING id");
    tenant_b = sql1("INSERT INTO tenants (name, display_name) VALUES ('tenant-b', 'B') RETURNING id");
    center_x = sql1("INSERT INTO centers (name, region, price_gpu_hour) "
                    "VALUES ('center-x', 'beijing', 20) RETURNING id");
    center_y = sql1("INSERT INTO centers (name, region) VALUES ('center-y', 'guangdong') "
                    "RETURNING id");
    auto user = [&](const std::string& name, Role role, const std::string& tenant,
                    const std::string& center) {
      Principal p;
      p.role = role;
      p.username = name;
      p.tenant_id = tenant;
      p.center_id = center;
      p.user_id = sql1("INSERT INTO users (username, password_hash, role, tenant_id, center_id) "
                       "VALUES ('" + name + "', 'not-a-real-hash-x', '" +
                       std::string(role_name(role)) + "', " +
                       (tenant.empty() ? "NULL" : "'" + tenant + "'") + ", " +
                       (center.empty() ? "NULL" : "'" + center + "'") + ") RETURNING id");
      principals_[name] = p;
    };
    user("admin", Role::kAdmin, "", "");
    user("op-x", Role::kOperator, "", center_x);
    user("op-y", Role::kOperator, "", center_y);
    user("member-a", Role::kMember, tenant_a, "");
    user("member-b", Role::kMember, tenant_b, "");
    auto node = [&](const std::string& name, const std::string& center) {
      std::string id = sql1(
          "INSERT INTO nodes (center_id, name, address, simulated, secret_hash, "
          "last_heartbeat_at) VALUES ('" + center + "', '" + name +
          "', '127.0.0.1', true, sha256(gen_random_uuid()::text::bytea), now()) RETURNING id");
      sql1("INSERT INTO devices (node_id, kind, model, memory_bytes, count) VALUES ('" + id +
           "', 'cpu', 'Xeon', 17179869184, 8), ('" + id +
           "', 'gpu', 'H200', 151397597184, 8) RETURNING id");
      return id;
    };
    node_x = node("node-x1", center_x);
    node_y = node("node-y1", center_y);
    auto cat = catalog::load_catalog_file(
        (std::filesystem::path(__FILE__).parent_path().parent_path() / "catalog" / "demo_catalog.json")
            .string());
    REQUIRE_MESSAGE(cat.is_ok(), cat.status().to_string());
    Status st = catalog::resolve_local_files(*cat, {scn::testing::shared_dir(), true});
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
    auto imported = catalog::CatalogStore(*db_->pool).import_catalog(*cat);
    REQUIRE_MESSAGE(imported.is_ok(), imported.status().to_string());
  }

  std::optional<db::testing::TestDatabase> db_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::string redis_url_;
  std::unique_ptr<BrokerContext> ctx_;
  std::map<std::string, Principal> principals_;
  std::unique_ptr<ApiRouter> router_;
  std::unique_ptr<http::Server> server_;
  std::string base_;
};

// Collects the messages published on scn:scheduler:wake while alive.
class WakeWatcher {
 public:
  explicit WakeWatcher(const std::string& url) {
    auto sub = redis::RedisSubscriber::create(url);
    REQUIRE_MESSAGE(sub.is_ok(), sub.status().to_string());
    sub_ = std::move(sub).value();
    thread_ = std::thread([this] {
      (void)sub_->run(
          {std::string(kSchedulerWakeChannel)}, {},
          [this](const redis::PubSubMessage& m) {
            std::lock_guard<std::mutex> lock(mu_);
            seen_.push_back(m.payload);
            cv_.notify_all();
          },
          [this] {
            std::lock_guard<std::mutex> lock(mu_);
            subscribed_ = true;
            cv_.notify_all();
          });
    });
    std::unique_lock<std::mutex> lock(mu_);
    REQUIRE(cv_.wait_for(lock, std::chrono::seconds(5), [&] { return subscribed_; }));
  }
  ~WakeWatcher() {
    sub_->stop();
    thread_.join();
  }
  // How many times `id` was published, waiting up to 2 s for at least `at_least`.
  int count(const std::string& id, int at_least = 1) {
    std::unique_lock<std::mutex> lock(mu_);
    auto n = [&] { return static_cast<int>(std::count(seen_.begin(), seen_.end(), id)); };
    cv_.wait_for(lock, std::chrono::seconds(2), [&] { return n() >= at_least; });
    return n();
  }

 private:
  std::unique_ptr<redis::RedisSubscriber> sub_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool subscribed_ = false;
  std::vector<std::string> seen_;
};

}  // namespace scn::broker::testing
