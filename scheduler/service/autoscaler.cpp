#include "scheduler/service/autoscaler.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <vector>

#include "common/db/pg.h"
#include "common/json.h"
#include "common/log.h"
#include "common/redis/redis.h"
#include "scheduler/service/fencing.h"
#include "scheduler/service/service_context.h"

namespace scn::scheduler {

std::string load_key(std::string_view id) { return "scn:load:" + std::string(id); }
std::string demand_key(std::string_view id) { return "scn:demand:" + std::string(id); }

namespace {

// "%.0f" for a whole number, else "%.2f" (bounded).
std::string number_text(double v) {
  char text[32];
  v = std::min(v, 1e9);
  std::snprintf(text, sizeof text, v == std::round(v) ? "%.0f" : "%.2f", v);
  return text;
}

// Rule 5: is the TTFT rule held after a recent scale-up? Updates the memory.
bool ttft_held(const AutoscaleSignal& s, AutoscaleMemory& m, SteadyTime now, const AutoscaleWindows& w) {
  if (!m.scaled_up_at || w.ttft_settle.count() <= 0) return false;
  const auto end_hold = [&] {
    m.scaled_up_at.reset();
    m.ready_at.reset();
    return false;
  };
  // Scaled down since, or moved by someone else: the hold is moot.
  if (s.wanted < m.scaled_to) return end_hold();
  if (now - *m.scaled_up_at >= 4 * w.ttft_settle) return end_hold();
  const int ready = s.ready < 0 ? s.wanted : s.ready;
  if (!m.ready_at && ready >= m.scaled_to) m.ready_at = now;
  if (m.ready_at && now - *m.ready_at >= w.ttft_settle) return end_hold();
  return true;
}

}  // namespace

AutoscaleDecision decide_scale(const AutoscaleSignal& s, AutoscaleMemory& m, SteadyTime now,
                               const AutoscaleWindows& w) {
  AutoscaleDecision d{s.wanted, ""};
  auto reset = [&] { m.above_since.reset(), m.below_since.reset(); };
  auto reset_all = [&] {
    reset();
    m.scaled_up_at.reset();
    m.ready_at.reset();
  };
  if (s.wanted < s.min_replicas) {
    reset_all();
    return {s.min_replicas, "below min_replicas " + std::to_string(s.min_replicas)};
  }
  if (s.wanted > s.max_replicas) {
    reset_all();
    return {s.max_replicas, "above max_replicas " + std::to_string(s.max_replicas)};
  }
  const int floor = std::max(1, s.min_replicas);
  if (s.wanted == 0) {
    reset_all();
    if (s.demand || s.load > 0) return {floor, "woken by a request"};
    return d;
  }
  if (s.min_replicas == 0 && s.load <= 0 && s.idle_for_s >= s.idle_seconds) {
    reset_all();
    return {0, "idle for " + std::to_string(static_cast<int64_t>(s.idle_for_s)) + " s"};
  }
  const auto replicas_for = [](double ratio) {
    return static_cast<int>(std::ceil(std::clamp(ratio, 0.0, 1e6) - 1e-9));
  };
  const double target = s.target_outstanding > 0 ? s.target_outstanding : 1;
  const int by_load = replicas_for(s.load / target);
  int by_ttft = 0;
  const bool ttft_rule = s.target_ttft_ms && *s.target_ttft_ms > 0 && s.ttft_p90_ms && *s.ttft_p90_ms >= 0;
  const bool held = ttft_rule && ttft_held(s, m, now, w);
  if (ttft_rule) by_ttft = held ? s.wanted : replicas_for(s.wanted * *s.ttft_p90_ms / *s.target_ttft_ms);
  int by_tokens = 0;
  const bool tokens_rule = s.target_tokens_per_second && *s.target_tokens_per_second > 0 && s.tokens_per_s &&
                           *s.tokens_per_s >= 0;
  if (tokens_rule) by_tokens = replicas_for(*s.tokens_per_s / *s.target_tokens_per_second);
  const int desired =
      std::clamp(std::max({by_load, by_ttft, by_tokens}), floor, std::max(floor, s.max_replicas));
  const char* direction = desired > s.wanted ? "above" : "below";
  char why[160];
  if (ttft_rule && by_ttft > by_load && by_ttft >= by_tokens) {
    // (Never while held: the held rule wants exactly `wanted`.)
    std::snprintf(why, sizeof why, "ttft p90 %.0f ms %s target %s ms", std::min(*s.ttft_p90_ms, 1e9),
                  direction, number_text(*s.target_ttft_ms).c_str());
  } else if (tokens_rule && by_tokens > by_load) {
    std::snprintf(why, sizeof why, "tokens/s %s %s target %s per replica",
                  number_text(std::round(*s.tokens_per_s)).c_str(), direction,
                  number_text(*s.target_tokens_per_second).c_str());
  } else {
    std::snprintf(why, sizeof why, "load %.1f %s target", s.load, direction);
  }
  if (desired > s.wanted) {
    m.below_since.reset();
    if (!m.above_since) m.above_since = now;
    if (now - *m.above_since >= w.up) {
      m.above_since.reset();
      m.scaled_up_at = now;  // rule 5: hold the TTFT rule until the figure is fresh
      m.ready_at.reset();
      m.scaled_to = desired;
      return {desired, why};
    }
  } else if (desired < s.wanted) {
    m.above_since.reset();
    if (!m.below_since) m.below_since = now;
    if (now - *m.below_since >= w.down) {
      m.below_since.reset();
      return {desired, why};
    }
  } else {
    reset();
  }
  return d;
}

namespace {

namespace json = boost::json;

struct Row {
  std::string id;
  AutoscaleSignal signal;
  int64_t last_request_ms = 0;  // services.last_request_at, unix ms (0: none)
  int64_t since_ms = 0;         // created_at, unix ms
  int64_t now_ms = 0;           // the database's now(), unix ms
  std::vector<std::pair<std::string, std::string>> ready;  // replica id, node id
};

int64_t int_of(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.as_uint64());
  if (v.is_double()) return static_cast<int64_t>(v.as_double());
  return 0;
}

}  // namespace

Result<int> Autoscaler::run(int64_t epoch, SteadyTime now) {
  auto read = pool_.with_tx(
      [&](pqxx::work& tx) -> Result<std::vector<Row>> {
        std::vector<Row> rows;
        std::map<std::string, size_t> index;
        for (const auto& r : tx.exec(
                 "SELECT id, min_replicas, max_replicas, replicas_wanted, target_outstanding, idle_seconds, "
                 "COALESCE((extract(epoch FROM last_request_at) * 1000)::bigint, 0), "
                 "(extract(epoch FROM created_at) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint, "
                 "target_ttft_ms, target_tokens_per_second FROM services "
                 "WHERE min_replicas IS NOT NULL AND deleted_at IS NULL AND status <> 'stopped' ORDER BY id")) {
          Row row;
          row.id = r[0].as<std::string>();
          row.signal.min_replicas = r[1].as<int>();
          row.signal.max_replicas = r[2].as<int>();
          row.signal.wanted = r[3].as<int>();
          row.signal.target_outstanding = r[4].as<double>();
          row.signal.idle_seconds = r[5].as<int>();
          row.last_request_ms = r[6].as<int64_t>();
          row.since_ms = r[7].as<int64_t>();
          row.now_ms = r[8].as<int64_t>();
          if (!r[9].is_null()) row.signal.target_ttft_ms = r[9].as<double>();
          if (!r[10].is_null()) row.signal.target_tokens_per_second = r[10].as<double>();
          index[row.id] = rows.size();
          rows.push_back(std::move(row));
        }
        if (rows.empty()) return rows;
        for (const auto& r : tx.exec(
                 "SELECT r.service_id, r.id, r.node_id FROM replicas r JOIN services s ON s.id = r.service_id "
                 "WHERE s.min_replicas IS NOT NULL AND r.state = 'ready'")) {
          auto it = index.find(r[0].as<std::string>());
          if (it != index.end())
            rows[it->second].ready.emplace_back(r[1].as<std::string>(), r[2].as<std::string>());
        }
        return rows;
      },
      db::TxOptions{db::Isolation::kRepeatableRead, /*read_only=*/true});
  if (!read.is_ok()) return read.status();
  std::vector<Row>& rows = *read;
  std::set<std::string> present;
  for (const Row& r : rows) present.insert(r.id);
  for (auto it = memory_.begin(); it != memory_.end();)
    it = present.count(it->first) ? std::next(it) : memory_.erase(it);
  if (rows.empty()) return 0;

  // What the agents report: outstanding per ready replica, from the nodes' status keys.
  std::map<std::string, double> outstanding;  // replica id -> outstanding
  std::set<std::string> nodes;
  for (const Row& r : rows)
    for (const auto& [rid, nid] : r.ready) nodes.insert(nid);
  if (!nodes.empty()) {
    std::vector<std::string> args{"MGET"};
    for (const auto& n : nodes) args.push_back(node_status_key(n));
    auto reply = redis_.command(args);
    if (!reply.is_ok()) return reply.status().with_context("node status keys");
    for (const auto& e : reply->elements) {
      if (!e.is_string()) continue;
      auto body = common::parse_json_object(e.str);
      if (!body.is_ok() || !body->contains("replicas") || !body->at("replicas").is_array()) continue;
      for (const auto& rep : body->at("replicas").as_array()) {
        if (!rep.is_object()) continue;
        const auto& o = rep.as_object();
        if (!o.contains("replica_id") || !o.at("replica_id").is_string() || !o.contains("outstanding")) continue;
        outstanding[std::string(o.at("replica_id").as_string())] =
            static_cast<double>(std::max<int64_t>(0, int_of(o.at("outstanding"))));
      }
    }
  }
  // What the brokers report, and the wake requests of services at zero.
  std::vector<std::string> demand_args{"MGET"};
  for (Row& r : rows) {
    double agents = 0;
    for (const auto& [rid, nid] : r.ready) {
      auto it = outstanding.find(rid);
      if (it != outstanding.end()) agents += it->second;
    }
    auto fields = redis_.hgetall(load_key(r.id));
    if (!fields.is_ok()) return fields.status().with_context("service load");
    double brokers = 0;
    for (const auto& [broker, text] : *fields) {
      auto o = common::parse_json_object(text);
      if (!o.is_ok()) continue;
      if (o->contains("in_flight")) brokers += static_cast<double>(std::max<int64_t>(0, int_of(o->at("in_flight"))));
      if (o->contains("last_request_ms"))
        r.last_request_ms = std::max(r.last_request_ms, int_of(o->at("last_request_ms")));
      const auto* p90 = o->if_contains("ttft_p90_ms");
      const auto* count = o->if_contains("ttft_count");
      if (p90 != nullptr && count != nullptr && int_of(*count) > 0 && p90->is_number()) {
        const double v = p90->to_number<double>();
        if (std::isfinite(v) && v >= 0)
          r.signal.ttft_p90_ms = std::max(r.signal.ttft_p90_ms.value_or(0), v);
      }
      const auto* tps = o->if_contains("tokens_per_s");
      const auto* samples = o->if_contains("tokens_count");
      if (tps != nullptr && samples != nullptr && int_of(*samples) > 0 && tps->is_number()) {
        const double v = tps->to_number<double>();
        if (std::isfinite(v) && v >= 0) r.signal.tokens_per_s = r.signal.tokens_per_s.value_or(0) + v;
      }
    }
    r.signal.load = std::max(agents, brokers);
    r.signal.ready = static_cast<int>(r.ready.size());
    r.signal.idle_for_s =
        static_cast<double>(r.now_ms - std::max(r.last_request_ms, r.since_ms)) / 1000.0;
    demand_args.push_back(demand_key(r.id));
  }
  auto demand = redis_.command(demand_args);
  if (!demand.is_ok()) return demand.status().with_context("demand keys");
  for (size_t i = 0; i < rows.size() && i < demand->elements.size(); ++i)
    rows[i].signal.demand = !demand->elements[i].is_nil();

  int changed = 0;
  for (Row& r : rows) {
    AutoscaleDecision d = decide_scale(r.signal, memory_[r.id], now, windows_);
    const bool scale = d.wanted != r.signal.wanted;
    auto wrote = pool_.with_tx([&](pqxx::work& tx) -> Result<int> {
      SCN_RETURN_IF_ERROR(check_epoch(tx, epoch));
      if (r.last_request_ms > 0)
        tx.exec_params(
            "UPDATE services SET last_request_at = to_timestamp($2::bigint / 1000.0) WHERE id = $1 "
            "AND (last_request_at IS NULL OR last_request_at < to_timestamp($2::bigint / 1000.0))",
            r.id, r.last_request_ms);
      if (!scale) return 0;
      // A wake counts as a request: the idle clock restarts, so that the
      // service is not idled back to zero before the brokers' load arrives.
      return static_cast<int>(
          tx.exec_params("UPDATE services SET replicas_wanted = $2, version = version + 1, "
                         "last_request_at = CASE WHEN $3 = 0 AND $2 > 0 THEN now() ELSE last_request_at END "
                         "WHERE id = $1 AND replicas_wanted = $3 AND deleted_at IS NULL",
                         r.id, d.wanted, r.signal.wanted)
              .affected_rows());
    });
    if (!wrote.is_ok()) return wrote.status();
    if (*wrote > 0) {
      ++changed;
      common::log_info("scheduler: autoscale service ", r.id, ": ", r.signal.wanted, " -> ", d.wanted,
                       " (", d.reason, ")");
    }
    if (r.signal.demand && d.wanted > 0) (void)redis_.del({demand_key(r.id)});
  }
  return changed;
}

}  // namespace scn::scheduler
