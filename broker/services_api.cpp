#include "broker/services_api.h"

#include <boost/json.hpp>

#include <algorithm>
#include <set>

#include "broker/resource_util.h"
#include "broker/services_store.h"
#include "catalog/catalog_store.h"
#include "common/json.h"

namespace scn::broker {
namespace {

namespace json = boost::json;
using common::JsonObject;

bool valid_service_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

Status unknown_fields(const JsonObject& obj, const std::set<std::string_view>& known,
                      std::string_view prefix) {
  for (const auto& kv : obj) {
    if (known.count(kv.key()) == 0) {
      return Status::invalid_argument("field '" + std::string(prefix) + std::string(kv.key()) +
                                      "' is not known");
    }
  }
  return Status::ok();
}

Result<json::array> string_array(const JsonObject& obj, std::string_view key) {
  const std::string field = "field 'placement." + std::string(key) + "'";
  const json::value& v = obj.at(key);
  if (!v.is_array()) return Status::invalid_argument(field + " must be an array of strings");
  json::array out;
  for (const auto& e : v.as_array()) {
    if (!e.is_string() || e.as_string().empty() || e.as_string().size() > 200)
      return Status::invalid_argument(field + " must be an array of non-empty strings");
    out.push_back(e);
  }
  return out;
}

// Validates a placement object and returns it with only the fields given.
Result<json::object> parse_placement(const JsonObject* p) {
  json::object out;
  if (p == nullptr) return out;
  SCN_RETURN_IF_ERROR(unknown_fields(
      *p, {"regions", "device_kind", "device_models", "price_cap_per_hour", "cpu_threads"},
      "placement."));
  for (const auto& kv : *p) {
    const std::string key(kv.key());
    const json::value& v = kv.value();
    if (v.is_null()) continue;
    const std::string field = "field 'placement." + key + "'";
    if (key == "regions" || key == "device_models") {
      SCN_ASSIGN_OR_RETURN(out[key], string_array(*p, key));
    } else if (key == "device_kind") {
      if (!v.is_string() || (v.as_string() != "cpu" && v.as_string() != "gpu" &&
                             v.as_string() != "any"))
        return Status::invalid_argument(field + " must be \"cpu\", \"gpu\" or \"any\"");
      out[key] = v;
    } else if (key == "price_cap_per_hour") {
      if (!v.is_number() || v.to_number<double>() < 0)
        return Status::invalid_argument(field + " must be a number >= 0");
      out[key] = v.to_number<double>();
    } else if (key == "cpu_threads") {
      auto n = common::get_optional_int(*p, key);
      if (!n.is_ok() || !n->has_value() || **n < 1 || **n > 256)
        return Status::invalid_argument(field + " must be an integer from 1 to 256");
      out[key] = **n;
    }
  }
  return out;
}

json::value opt_json(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

json::object service_json(const ServiceRecord& s) {
  json::object o;
  o["id"] = s.id;
  o["tenant_id"] = s.tenant_id;
  o["name"] = s.name;
  o["model"] = s.model;
  o["quantization"] = s.quantization;
  o["model_file_id"] = s.model_file_id;
  o["replicas_wanted"] = s.replicas_wanted;
  o["replicas_ready"] = s.replicas_ready;
  o["context_length"] = s.context_length;
  auto placement = common::parse_json(s.placement_json);
  o["placement"] = placement.is_ok() ? *placement : json::value(json::object());
  o["status"] = s.status;
  o["status_reason"] = opt_json(s.status_reason);
  o["created_at"] = s.created_at;
  o["updated_at"] = s.updated_at;
  o["endpoint"] = "/v1/chat/completions";
  if (s.min_replicas && s.max_replicas) {
    o["autoscale"] = json::object{{"min_replicas", *s.min_replicas},
                                  {"max_replicas", *s.max_replicas},
                                  {"target_outstanding", s.target_outstanding},
                                  {"idle_seconds", s.idle_seconds},
                                  {"target_ttft_ms", s.target_ttft_ms ? json::value(*s.target_ttft_ms)
                                                                      : json::value(nullptr)},
                                  {"target_tokens_per_second", s.target_tokens_per_second
                                                                   ? json::value(*s.target_tokens_per_second)
                                                                   : json::value(nullptr)}};
  } else {
    o["autoscale"] = nullptr;
  }
  o["priority"] = s.priority;
  return o;
}

json::object replica_json(const ReplicaRecord& r) {
  json::object o;
  o["id"] = r.id;
  o["state"] = r.state;
  o["reason"] = opt_json(r.reason);
  o["placement"] = opt_json(r.placement);
  o["node_id"] = opt_json(r.node_id);
  o["node_name"] = opt_json(r.node_name);
  o["center_id"] = opt_json(r.center_id);
  o["center_name"] = opt_json(r.center_name);
  json::object device;
  device["kind"] = opt_json(r.device_kind);
  device["model"] = opt_json(r.device_model);
  auto indices = common::parse_json(r.device_indices_json);
  device["indices"] = indices.is_ok() ? *indices : json::value(json::array());
  o["device"] = std::move(device);
  o["port"] = r.port ? json::value(*r.port) : json::value(nullptr);
  o["restarts"] = r.restarts;
  o["scheduled_at"] = opt_json(r.scheduled_at);
  o["ready_at"] = opt_json(r.ready_at);
  // The model file on the replica's node (fetch progress for whoever sees the service).
  if (r.file_state) {
    o["model_file"] = json::object{{"state", *r.file_state},
                                   {"bytes_present", r.file_bytes_present},
                                   {"size_bytes", r.file_size_bytes}};
  } else {
    o["model_file"] = nullptr;
  }
  return o;
}

// The tenant scope of the caller: "" for an admin, the member's tenant, or
// 403 for operators.
Result<std::string> scope_of(const Principal& p) {
  if (p.is_admin()) return std::string();
  if (p.role == Role::kMember && !p.tenant_id.empty()) return p.tenant_id;
  return Status::permission_denied("services are managed by their tenant's members and admins");
}

// The tenant a request is about: the admin's ?tenant_id= / body tenant_id,
// or the member's own (403 when a member names another).
Result<std::string> tenant_of(const Principal& p, std::optional<std::string> asked,
                              bool admin_must_name) {
  if (p.is_admin()) {
    if (!asked) {
      if (admin_must_name) return Status::invalid_argument("field 'tenant_id' is required");
      return std::string();
    }
    if (!is_uuid(*asked)) return Status::invalid_argument("field 'tenant_id' must be a uuid");
    return *asked;
  }
  SCN_ASSIGN_OR_RETURN(std::string own, scope_of(p));
  if (asked && *asked != own)
    return Status::permission_denied("field 'tenant_id': members act on their own tenant only");
  return own;
}

// The autoscaling fields of a body: nullopt when neither bound is given.
Result<std::optional<AutoscaleSpec>> parse_autoscale(const JsonObject& body) {
  SCN_ASSIGN_OR_RETURN(auto min, common::get_optional_int(body, "min_replicas"));
  SCN_ASSIGN_OR_RETURN(auto max, common::get_optional_int(body, "max_replicas"));
  SCN_ASSIGN_OR_RETURN(auto target, common::get_optional_number(body, "target_outstanding"));
  SCN_ASSIGN_OR_RETURN(auto idle, common::get_optional_int(body, "idle_seconds"));
  SCN_ASSIGN_OR_RETURN(auto ttft, common::get_optional_number(body, "target_ttft_ms"));
  const bool clear_ttft = body.contains("target_ttft_ms") && body.at("target_ttft_ms").is_null();
  SCN_ASSIGN_OR_RETURN(auto tokens, common::get_optional_number(body, "target_tokens_per_second"));
  const bool clear_tokens =
      body.contains("target_tokens_per_second") && body.at("target_tokens_per_second").is_null();
  if (!min && !max) {
    if (target || idle || ttft || clear_ttft || tokens || clear_tokens)
      return Status::invalid_argument("fields 'target_outstanding', 'idle_seconds', 'target_ttft_ms' and "
                                      "'target_tokens_per_second' need 'min_replicas' and 'max_replicas'");
    return std::optional<AutoscaleSpec>();
  }
  if (!min) return Status::invalid_argument("field 'min_replicas' is required with 'max_replicas'");
  if (!max) return Status::invalid_argument("field 'max_replicas' is required with 'min_replicas'");
  if (*min < 0 || *min > kMaxReplicasPerService)
    return Status::unprocessable("field 'min_replicas' must be between 0 and 1000");
  if (*max < 1 || *max > kMaxReplicasPerService || *max < *min)
    return Status::unprocessable("field 'max_replicas' must be between max(1, min_replicas) and 1000");
  AutoscaleSpec spec;
  spec.min_replicas = static_cast<int>(*min);
  spec.max_replicas = static_cast<int>(*max);
  if (target) {
    if (!(*target > 0 && *target <= 10000))
      return Status::unprocessable("field 'target_outstanding' must be > 0 and <= 10000");
    spec.target_outstanding = *target;
  }
  if (idle) {
    if (*idle < 1 || *idle > 604800)
      return Status::unprocessable("field 'idle_seconds' must be between 1 and 604800");
    spec.idle_seconds = static_cast<int>(*idle);
  }
  if (ttft) {
    if (!(*ttft > 0 && *ttft <= 600000))
      return Status::unprocessable("field 'target_ttft_ms' must be > 0 and <= 600000");
    spec.target_ttft_ms = *ttft;
  }
  spec.clear_target_ttft = clear_ttft;
  if (tokens) {
    if (!(*tokens > 0 && *tokens <= 1000000))
      return Status::unprocessable("field 'target_tokens_per_second' must be > 0 and <= 1000000");
    spec.target_tokens_per_second = *tokens;
  }
  spec.clear_target_tokens = clear_tokens;
  return std::optional<AutoscaleSpec>(spec);
}

Result<NewService> parse_create(BrokerContext& ctx, const ApiCall& call) {
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  SCN_RETURN_IF_ERROR(unknown_fields(
      body, {"name", "model", "quantization", "replicas", "context_length", "placement",
             "tenant_id", "min_replicas", "max_replicas", "target_outstanding", "idle_seconds",
             "priority", "target_ttft_ms", "target_tokens_per_second"},
      ""));
  NewService spec;
  SCN_ASSIGN_OR_RETURN(spec.autoscale, parse_autoscale(body));
  SCN_ASSIGN_OR_RETURN(auto priority, common::get_optional_int(body, "priority"));
  if (priority) {
    if (*priority < -1000 || *priority > 1000)
      return Status::unprocessable("field 'priority' must be between -1000 and 1000");
    if (*priority > 0 && !call.who().is_admin())
      return Status::permission_denied("field 'priority': only an admin sets a priority above 0");
    spec.priority = static_cast<int>(*priority);
  }
  SCN_ASSIGN_OR_RETURN(auto asked_tenant, common::get_optional_string(body, "tenant_id"));
  SCN_ASSIGN_OR_RETURN(spec.tenant_id, tenant_of(call.who(), asked_tenant, true));
  SCN_ASSIGN_OR_RETURN(spec.name, common::require_string(body, "name"));
  if (!valid_service_name(spec.name))
    return Status::invalid_argument(
        "field 'name' must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or "
        "digit");
  SCN_ASSIGN_OR_RETURN(std::string model, common::require_string(body, "model"));
  SCN_ASSIGN_OR_RETURN(auto quantization, common::get_optional_string(body, "quantization"));
  SCN_ASSIGN_OR_RETURN(auto replicas, common::get_optional_int(body, "replicas"));
  SCN_ASSIGN_OR_RETURN(auto context, common::get_optional_int(body, "context_length"));
  SCN_ASSIGN_OR_RETURN(const JsonObject* placement_obj, common::get_object(body, "placement"));
  SCN_ASSIGN_OR_RETURN(json::object placement, parse_placement(placement_obj));
  spec.placement_json = common::to_json(placement);

  catalog::CatalogStore catalog(ctx.pg);
  auto card = catalog.get_model(model);
  if (!card.is_ok()) {
    if (card.status().code() == Code::kNotFound)
      return Status::not_found("field 'model': no model '" + model + "' in the catalog");
    return card.status();
  }
  if (card->files.empty()) return Status::conflict("model '" + model + "' has no files");
  const catalog::ModelFile* file = nullptr;
  if (quantization) {
    auto q = catalog::parse_quant(*quantization);
    if (!q) {
      return Status::invalid_argument("field 'quantization' must be one of " +
                                      catalog::known_quant_names());
    }
    file = card->file(*q);
    if (file == nullptr) {
      return Status::not_found("field 'quantization': model '" + model + "' has no " +
                               *quantization + " file");
    }
  } else {
    auto it = std::find_if(card->files.begin(), card->files.end(),
                           [](const catalog::ModelFile& f) { return f.weights_present(); });
    file = it != card->files.end() ? &*it : &card->files.front();
  }
  SCN_RETURN_IF_ERROR(catalog.check_launchable(file->id));

  const std::int64_t max_context = card->facts.context_length;
  const std::int64_t ctx_len = context.value_or(std::min<std::int64_t>(max_context, 4096));
  if (ctx_len < 1 || ctx_len > max_context) {
    return Status::unprocessable("field 'context_length' must be between 1 and " +
                                 std::to_string(max_context) + " (the model's context)");
  }
  const std::int64_t n =
      replicas.value_or(spec.autoscale ? std::max(1, spec.autoscale->min_replicas) : 1);
  if (n < 0 || n > kMaxReplicasPerService) {
    return Status::unprocessable("field 'replicas' must be between 0 and the tenant's maximum");
  }
  spec.model_id = card->id;
  spec.model_file_id = file->id;
  spec.context_length = static_cast<int>(ctx_len);
  spec.replicas = static_cast<int>(n);
  if (call.who().kind == Principal::Kind::kUser) spec.created_by = call.who().user_id;
  return spec;
}

Status reply_service(ApiCall& call, int status, const ServiceRecord& s) {
  reply_json(call, status, service_json(s));
  return Status::ok();
}

}  // namespace

void add_service_routes(ApiRouter& router, BrokerContext& ctx) {
  router.add("POST", "/api/v1/services", Access::kAuthenticated, [&ctx](ApiCall& call) -> Status {
    SCN_ASSIGN_OR_RETURN(NewService spec, parse_create(ctx, call));
    ServicesStore store(ctx.pg);
    SCN_ASSIGN_OR_RETURN(ServiceRecord s,
                         store.create(spec, Actor::of(call.who(), call.client_ip())));
    publish_wake(ctx.redis, s.id);
    return reply_service(call, 201, s);
  });

  router.add("GET", "/api/v1/services", Access::kAuthenticated, [&ctx](ApiCall& call) -> Status {
    std::optional<std::string> asked;
    if (auto t = call.request.query_param("tenant_id")) asked = std::string(*t);
    auto tenant = tenant_of(call.who(), asked, false);
    if (!tenant.is_ok()) {
      if (tenant.status().code() == Code::kInvalidArgument && call.who().is_admin())
        return Status::not_found("param 'tenant_id': no such tenant");
      return tenant.status();
    }
    ServicesStore store(ctx.pg);
    SCN_ASSIGN_OR_RETURN(auto services, store.list(*tenant));
    json::array data;
    for (const auto& s : services) data.push_back(service_json(s));
    reply_json(call, 200, json::object{{"data", std::move(data)}});
    return Status::ok();
  });

  router.add("GET", "/api/v1/services/{id}", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               SCN_ASSIGN_OR_RETURN(std::string scope, scope_of(call.who()));
               ServicesStore store(ctx.pg);
               SCN_ASSIGN_OR_RETURN(ServiceRecord s, store.get(call.param("id"), scope));
               SCN_ASSIGN_OR_RETURN(auto replicas, store.replicas(s.id));
               json::object o = service_json(s);
               json::array list;
               for (const auto& r : replicas) list.push_back(replica_json(r));
               o["replicas"] = std::move(list);
               reply_json(call, 200, o);
               return Status::ok();
             });

  router.add("POST", "/api/v1/services/{id}/scale", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               SCN_ASSIGN_OR_RETURN(std::string scope, scope_of(call.who()));
               ServicesStore store(ctx.pg);
               // Foreign ids are 404 before the body is looked at.
               SCN_ASSIGN_OR_RETURN(ServiceRecord cur, store.get(call.param("id"), scope));
               SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
               SCN_RETURN_IF_ERROR(unknown_fields(body, {"replicas"}, ""));
               SCN_ASSIGN_OR_RETURN(std::int64_t n, common::require_int(body, "replicas"));
               if (n < 0 || n > kMaxReplicasPerService)
                 return Status::unprocessable(
                     "field 'replicas' must be between 0 and the tenant's maximum");
               SCN_ASSIGN_OR_RETURN(ServiceRecord s,
                                    store.scale(cur.id, scope, static_cast<int>(n),
                                                Actor::of(call.who(), call.client_ip())));
               publish_wake(ctx.redis, s.id);
               return reply_service(call, 200, s);
             });

  router.add("POST", "/api/v1/services/{id}/autoscale", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               SCN_ASSIGN_OR_RETURN(std::string scope, scope_of(call.who()));
               ServicesStore store(ctx.pg);
               SCN_ASSIGN_OR_RETURN(ServiceRecord cur, store.get(call.param("id"), scope));
               SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
               SCN_RETURN_IF_ERROR(unknown_fields(
                   body, {"min_replicas", "max_replicas", "target_outstanding", "idle_seconds",
                          "target_ttft_ms", "target_tokens_per_second"},
                   ""));
               SCN_ASSIGN_OR_RETURN(auto spec, parse_autoscale(body));
               if (!spec)
                 return Status::invalid_argument("fields 'min_replicas' and 'max_replicas' are required");
               SCN_ASSIGN_OR_RETURN(ServiceRecord s,
                                    store.autoscale(cur.id, scope, *spec,
                                                    Actor::of(call.who(), call.client_ip())));
               publish_wake(ctx.redis, s.id);
               return reply_service(call, 200, s);
             });

  router.add("POST", "/api/v1/services/{id}/stop", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               SCN_ASSIGN_OR_RETURN(std::string scope, scope_of(call.who()));
               ServicesStore store(ctx.pg);
               SCN_ASSIGN_OR_RETURN(ServiceRecord s,
                                    store.stop(call.param("id"), scope,
                                               Actor::of(call.who(), call.client_ip())));
               publish_wake(ctx.redis, s.id);
               return reply_service(call, 200, s);
             });

  router.add("DELETE", "/api/v1/services/{id}", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               SCN_ASSIGN_OR_RETURN(std::string scope, scope_of(call.who()));
               ServicesStore store(ctx.pg);
               SCN_RETURN_IF_ERROR(store.remove(call.param("id"), scope,
                                                Actor::of(call.who(), call.client_ip())));
               publish_wake(ctx.redis, call.param("id"));
               reply_empty(call, 204);
               return Status::ok();
             });
}

}  // namespace scn::broker
