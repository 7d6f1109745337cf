#include "broker/gateway/usage_meter.h"

#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include "common/db/pg.h"
#include "common/log.h"
#include "common/periodic.h"

namespace scn::broker {
namespace {

double epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

bool UsageKey::operator<(const UsageKey& o) const {
  return std::tie(tenant_id, service_id, api_key_id, model, center_id) <
         std::tie(o.tenant_id, o.service_id, o.api_key_id, o.model, o.center_id);
}

struct UsageMeter::Impl {
  explicit Impl(db::PgPool& p) : pg(p) {}
  db::PgPool& pg;

  mutable std::mutex mu;
  std::map<UsageKey, UsageCounts> counts;
  std::optional<std::chrono::system_clock::time_point> period_start;

  std::mutex flush_mu;  // one flush at a time

  common::Periodic flusher;

  void merge(std::map<UsageKey, UsageCounts>& into, const std::map<UsageKey, UsageCounts>& from) {
    for (const auto& [k, c] : from) {
      auto& t = into[k];
      t.requests += c.requests;
      t.prompt_tokens += c.prompt_tokens;
      t.cached_prompt_tokens += c.cached_prompt_tokens;
      t.completion_tokens += c.completion_tokens;
    }
  }
};

UsageMeter::UsageMeter(db::PgPool& pg) : impl_(std::make_unique<Impl>(pg)) {}

UsageMeter::~UsageMeter() { stop(); }

void UsageMeter::record(const UsageKey& key, const UsageCounts& counts) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->period_start) impl_->period_start = std::chrono::system_clock::now();
  auto& t = impl_->counts[key];
  t.requests += counts.requests;
  t.prompt_tokens += counts.prompt_tokens;
  t.cached_prompt_tokens += counts.cached_prompt_tokens;
  t.completion_tokens += counts.completion_tokens;
}

std::size_t UsageMeter::pending() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->counts.size();
}

Status UsageMeter::flush() {
  std::lock_guard<std::mutex> flush_lock(impl_->flush_mu);
  std::map<UsageKey, UsageCounts> batch;
  std::chrono::system_clock::time_point start;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->counts.empty()) return Status::ok();
    batch.swap(impl_->counts);
    start = impl_->period_start.value_or(std::chrono::system_clock::now());
    impl_->period_start.reset();
  }
  int dropped = 0;
  Status st = impl_->pg.with_tx([&](pqxx::work& tx) -> Status {
    dropped = 0;
    for (const auto& [k, c] : batch) {
      // Rows of a service that no longer exists are dropped (logged); a key
      // that no longer exists is recorded as NULL.
      pqxx::result r = tx.exec_params(
          "INSERT INTO usage_records (tenant_id, service_id, api_key_id, period_start, period_end,"
          "                           requests, prompt_tokens, completion_tokens,"
          "                           cached_prompt_tokens, model, center_id)"
          " SELECT s.tenant_id, s.id,"
          "        (SELECT k.id FROM api_keys k WHERE k.id = NULLIF($3, '')::uuid AND k.tenant_id = s.tenant_id),"
          "        LEAST(to_timestamp($4), now()), now(), $5, $6, $7, $8, NULLIF($9, ''),"
          "        CASE WHEN $10 ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"
          "             THEN $10::uuid END"
          "   FROM services s WHERE s.id = $2::uuid AND s.tenant_id = $1::uuid",
          k.tenant_id, k.service_id, k.api_key_id, epoch_seconds(start), c.requests, c.prompt_tokens,
          c.completion_tokens, c.cached_prompt_tokens, k.model, k.center_id);
      if (r.affected_rows() == 0) ++dropped;
    }
    return Status::ok();
  });
  if (!st.is_ok()) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->merge(impl_->counts, batch);
    if (!impl_->period_start || start < *impl_->period_start) impl_->period_start = start;
    common::log_warn("gateway: writing usage failed (kept for the next try): ", st.to_string());
    return st;
  }
  if (dropped > 0) common::log_warn("gateway: usage of ", dropped, " deleted service(s) dropped");
  return Status::ok();
}

void UsageMeter::start(std::chrono::milliseconds period) {
  impl_->flusher.start(period, [this] { (void)flush(); });
}

void UsageMeter::stop() {
  impl_->flusher.stop();
  (void)flush();
}

}  // namespace scn::broker
