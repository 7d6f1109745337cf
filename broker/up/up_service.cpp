#include "broker/up/up_service.h"

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "broker/up/api_session.h"

namespace scn::broker {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

Status unexpected(const std::string& what, const ApiAnswer& a) {
  return Status::internal(what + ": HTTP " + std::to_string(a.status) + " " + a.raw.substr(0, 500));
}

Result<ApiSession> member_session(const DemoServiceOptions& o) {
  if (o.password.empty())
    return Status::unauthenticated("the password of user '" + o.username +
                                   "' is not in credentials.json; remove the --var folder to start afresh");
  ApiSession s(o.broker_url);
  SCN_ASSIGN_OR_RETURN(ApiAnswer a, s.login(o.username, o.password));
  if (a.status != 200) return unexpected("log in as " + o.username, a);
  return s;
}

int64_t int_field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : 0;
}

std::string str_field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// "1/2 ready: starting on gz-gpu-1; pending (no node fits ...)"
std::string describe(const json::object& svc) {
  std::string s = std::to_string(int_field(svc, "replicas_ready")) + "/" +
                  std::to_string(int_field(svc, "replicas_wanted")) + " replicas ready";
  if (const auto* r = svc.if_contains("replicas"); r != nullptr && r->is_array()) {
    std::string sep = ": ";
    for (const auto& rep : r->as_array()) {
      if (!rep.is_object()) continue;
      const auto& ro = rep.as_object();
      s += sep + str_field(ro, "state");
      if (std::string node = str_field(ro, "node_name"); !node.empty()) s += " on " + node;
      if (std::string state = str_field(ro, "state"); state != "ready") {
        std::string reason = str_field(ro, "reason");
        if (!reason.empty()) s += " (" + reason.substr(0, 200) + ")";
      }
      sep = "; ";
    }
  }
  return s;
}

}  // namespace

Result<std::string> ensure_api_key(const DemoServiceOptions& o, UpCredentials& creds) {
  if (!creds.api_key.empty()) {
    ApiSession probe(o.broker_url);
    probe.use_api_key(creds.api_key);
    SCN_ASSIGN_OR_RETURN(ApiAnswer a, probe.call("GET", "/v1/models"));
    if (a.status == 200) return creds.api_key;
    if (a.status != 401) return unexpected("check the recorded API key", a);
    if (o.progress) o.progress("the recorded API key is no longer valid; creating a new one");
  }
  SCN_ASSIGN_OR_RETURN(ApiSession s, member_session(o));
  const std::string name = "scn-up-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                          std::chrono::system_clock::now().time_since_epoch())
                                                          .count());
  SCN_ASSIGN_OR_RETURN(ApiAnswer a,
                       s.call("POST", "/api/v1/api-keys", json::serialize(json::object{{"name", name}})));
  if (a.status != 201 || a.str("key").empty()) return unexpected("create an API key", a);
  creds.api_key = a.str("key");
  creds.api_key_id = a.str("id");
  return creds.api_key;
}

Status launch_demo_service(const DemoServiceOptions& o) {
  SCN_ASSIGN_OR_RETURN(ApiSession s, member_session(o));
  SCN_ASSIGN_OR_RETURN(ApiAnswer list, s.call("GET", "/api/v1/services"));
  if (list.status != 200 || !list.body.is_object()) return unexpected("list services", list);
  std::string id;
  int64_t wanted = 0;
  if (const auto* data = list.body.as_object().if_contains("data"); data != nullptr && data->is_array()) {
    for (const auto& v : data->as_array()) {
      if (!v.is_object()) continue;
      const auto& svc = v.as_object();
      if (str_field(svc, "name") != o.service_name || str_field(svc, "status") == "deleted") continue;
      id = str_field(svc, "id");
      wanted = int_field(svc, "replicas_wanted");
    }
  }
  if (id.empty()) {
    if (o.progress)
      o.progress("launching service '" + o.service_name + "' (" + o.model + ", " +
                 std::to_string(o.replicas) + " replicas)");
    json::object body{{"name", o.service_name}, {"model", o.model}, {"replicas", o.replicas}};
    SCN_ASSIGN_OR_RETURN(ApiAnswer a, s.call("POST", "/api/v1/services", json::serialize(body)));
    if (a.status != 201) return unexpected("create service " + o.service_name, a);
    id = a.str("id");
  } else if (wanted < o.replicas) {
    if (o.progress) o.progress("scaling service '" + o.service_name + "' to " + std::to_string(o.replicas));
    SCN_ASSIGN_OR_RETURN(ApiAnswer a, s.call("POST", "/api/v1/services/" + id + "/scale",
                                             json::serialize(json::object{{"replicas", o.replicas}})));
    if (a.status != 200) return unexpected("scale service " + o.service_name, a);
  }
  const auto deadline = std::chrono::steady_clock::now() + o.ready_timeout;
  std::string last;
  while (true) {
    if (o.stop_requested && o.stop_requested()) return Status::cancelled("stopped");
    SCN_ASSIGN_OR_RETURN(ApiAnswer a, s.call("GET", "/api/v1/services/" + id));
    if (a.status != 200 || !a.body.is_object()) return unexpected("get service " + o.service_name, a);
    const auto& svc = a.body.as_object();
    std::string now = describe(svc);
    if (now != last && o.progress) o.progress("service '" + o.service_name + "': " + now);
    last = now;
    if (int_field(svc, "replicas_ready") >= o.replicas) return Status::ok();
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::unavailable("service '" + o.service_name + "' is not ready after " +
                                 std::to_string(o.ready_timeout.count()) + " s: " + now);
    std::this_thread::sleep_for(1s);
  }
}

}  // namespace scn::broker
