#include "broker/gateway/route_table.h"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "common/db/pg.h"
#include "common/json.h"
#include "common/log.h"
#include "common/redis/redis.h"

namespace scn::broker {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_worker_tls{false};

std::string endpoint_url(const std::string& address, int port) {
  const bool ipv6 = address.find(':') != std::string::npos && address.front() != '[';
  return std::string(g_worker_tls.load() ? "https://" : "http://") +
         (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace

void set_worker_tls(bool on) { g_worker_tls.store(on); }
bool worker_tls() { return g_worker_tls.load(); }

std::string routes_key(const std::string& service_id) { return "scn:routes:" + service_id; }

Result<std::vector<Endpoint>> parse_routes_json(std::string_view text) {
  SCN_ASSIGN_OR_RETURN(common::JsonObject obj, common::parse_json_object(text));
  SCN_ASSIGN_OR_RETURN(const boost::json::array* list, common::get_array(obj, "endpoints"));
  std::vector<Endpoint> out;
  if (list == nullptr) return out;
  for (const auto& item : *list) {
    if (!item.is_object()) return Status::invalid_argument("routes: an endpoint is not an object");
    const auto& e = item.get_object();
    Endpoint ep;
    SCN_ASSIGN_OR_RETURN(ep.url, common::require_string(e, "url"));
    SCN_ASSIGN_OR_RETURN(ep.replica_id, common::get_string(e, "replica_id", ""));
    SCN_ASSIGN_OR_RETURN(ep.node_id, common::get_string(e, "node_id", ""));
    SCN_ASSIGN_OR_RETURN(ep.center_id, common::get_string(e, "center_id", ""));
    if (ep.url.rfind("http://", 0) != 0) return Status::invalid_argument("routes: url must be http://");
    if (g_worker_tls.load()) ep.url.insert(4, "s");  // https:// (set_worker_tls)
    out.push_back(std::move(ep));
  }
  return out;
}

struct RouteTable::Impl {
  db::PgPool& pg;
  redis::RedisClient& redis;
  std::string redis_url;
  std::chrono::milliseconds ttl;

  std::mutex mu;
  struct ServiceEntry {
    ServiceRef service;
    Clock::time_point expires;
  };
  struct RoutesEntry {
    std::vector<Endpoint> endpoints;
    Clock::time_point expires;
  };
  std::map<std::string, ServiceEntry> services;  // tenant_id + '\n' + name
  std::map<std::string, RoutesEntry> routes;     // service id

  std::unique_ptr<redis::RedisSubscriber> subscriber;
  std::thread thread;
  std::atomic<bool> subscribed{false};

  Impl(db::PgPool& p, redis::RedisClient& r, std::string url, std::chrono::milliseconds t)
      : pg(p), redis(r), redis_url(std::move(url)), ttl(t) {}

  Result<std::vector<Endpoint>> load_from_pg(const std::string& service_id) {
    return pg.with_tx(
        [&](pqxx::work& tx) -> Result<std::vector<Endpoint>> {
          std::vector<Endpoint> out;
          for (const auto& row : tx.exec_params(
                   "SELECT r.id, r.node_id, n.center_id, n.address, r.port"
                   "  FROM replicas r JOIN nodes n ON n.id = r.node_id"
                   " WHERE r.service_id = $1 AND r.state = 'ready' AND r.port IS NOT NULL"
                   "   AND n.status IN ('ready', 'draining')"
                   " ORDER BY r.id",
                   service_id)) {
            Endpoint ep;
            ep.replica_id = row[0].as<std::string>();
            ep.node_id = row[1].as<std::string>();
            ep.center_id = row[2].as<std::string>();
            ep.url = endpoint_url(row[3].as<std::string>(), row[4].as<int>());
            out.push_back(std::move(ep));
          }
          return out;
        },
        db::TxOptions{.read_only = true});
  }

  Result<std::vector<Endpoint>> load(const std::string& service_id) {
    auto cached = redis.get(routes_key(service_id));
    if (cached.is_ok() && cached->has_value()) {
      auto parsed = parse_routes_json(**cached);
      if (parsed.is_ok()) return parsed;
      common::log_warn("gateway: ", routes_key(service_id), " is malformed (",
                       parsed.status().message(), "); reading PostgreSQL");
    } else if (!cached.is_ok()) {
      common::log_warn("gateway: Redis failed (", cached.status().message(),
                       "); routes from PostgreSQL");
    }
    return load_from_pg(service_id);
  }
};

RouteTable::RouteTable(db::PgPool& pg, redis::RedisClient& redis, std::string redis_url,
                       std::chrono::milliseconds ttl)
    : impl_(std::make_unique<Impl>(pg, redis, std::move(redis_url), ttl)) {}

RouteTable::~RouteTable() { stop(); }

Result<ServiceRef> RouteTable::find_service(const std::string& tenant_id, const std::string& name) {
  const std::string key = tenant_id + '\n' + name;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->services.find(key);
    if (it != impl_->services.end() && it->second.expires > Clock::now()) return it->second.service;
  }
  auto found = impl_->pg.with_tx(
      [&](pqxx::work& tx) -> Result<ServiceRef> {
        pqxx::result r = tx.exec_params(
            "SELECT s.id, s.tenant_id, s.name, s.status, COALESCE(s.min_replicas = 0, false),"
            "       COALESCE(m.name, '')"
            "  FROM services s LEFT JOIN models m ON m.id = s.model_id"
            " WHERE s.tenant_id = $1 AND s.name = $2 AND s.deleted_at IS NULL",
            tenant_id, name);
        if (r.empty()) return Status::not_found("the model '" + name + "' does not exist");
        return ServiceRef{r[0][0].as<std::string>(), r[0][1].as<std::string>(),
                          r[0][2].as<std::string>(), r[0][3].as<std::string>(),
                          r[0][4].as<bool>(), r[0][5].as<std::string>()};
      },
      db::TxOptions{.read_only = true});
  if (found.is_ok() && impl_->ttl.count() > 0) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->services[key] = Impl::ServiceEntry{*found, Clock::now() + impl_->ttl};
  }
  if (!found.is_ok() && found.status().code() == Code::kNotFound) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->services.erase(key);
  }
  if (!found.is_ok() && found.status().code() == Code::kUnavailable) {
    // PostgreSQL unreachable (a restart): keep routing with what was known.
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->services.find(key);
    if (it != impl_->services.end()) return it->second.service;
  }
  return found;
}

std::optional<ServiceRef> RouteTable::cached_service(const std::string& tenant_id, const std::string& name) {
  std::string key;
  key.reserve(tenant_id.size() + 1 + name.size());
  key.append(tenant_id).append(1, '\n').append(name);
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->services.find(key);
  if (it == impl_->services.end() || it->second.expires <= Clock::now()) return std::nullopt;
  return it->second.service;
}

std::optional<std::vector<Endpoint>> RouteTable::cached_endpoints(const std::string& service_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->routes.find(service_id);
  if (it == impl_->routes.end() || it->second.expires <= Clock::now()) return std::nullopt;
  return it->second.endpoints;
}

Result<std::vector<Endpoint>> RouteTable::endpoints(const std::string& service_id) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->routes.find(service_id);
    if (it != impl_->routes.end() && it->second.expires > Clock::now()) return it->second.endpoints;
  }
  auto loaded = impl_->load(service_id);
  if (loaded.is_ok() && impl_->ttl.count() > 0) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->routes[service_id] = Impl::RoutesEntry{*loaded, Clock::now() + impl_->ttl};
  }
  return loaded;
}

void RouteTable::invalidate(const std::string& service_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->routes.erase(service_id);
  // Expired, not erased: find_service() falls back on it while PostgreSQL is down.
  for (auto& [key, entry] : impl_->services)
    if (entry.service.id == service_id) entry.expires = Clock::time_point::min();
}

void RouteTable::clear() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->routes.clear();
  for (auto& [key, entry] : impl_->services) entry.expires = Clock::time_point::min();
}

Status RouteTable::start() {
  if (impl_->subscriber) return Status::ok();
  SCN_ASSIGN_OR_RETURN(impl_->subscriber, redis::RedisSubscriber::create(impl_->redis_url));
  impl_->thread = std::thread([this] {
    Status st = impl_->subscriber->run(
        {kRoutesChannel}, {},
        [this](const redis::PubSubMessage& m) {
          common::log_debug("gateway: routes of ", m.payload, " changed");
          invalidate(m.payload);
        },
        [this] {
          clear();
          impl_->subscribed.store(true);
        });
    if (!st.is_ok()) common::log_error("gateway: routes subscriber stopped: ", st.to_string());
  });
  return Status::ok();
}

void RouteTable::stop() {
  if (!impl_->subscriber) return;
  impl_->subscriber->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool RouteTable::subscribed() const { return impl_->subscribed.load(); }

}  // namespace scn::broker
