// RequestLog against a real PostgreSQL: batched multi-row inserts keep every
// field (NULLs, quotes, long errors, no ttfb), and batches beyond one
// statement's rows all arrive.
#include "broker/gateway/request_log.h"

#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/db/test_db.h"

namespace scn::broker {
namespace {

constexpr const char* kTenant = "11111111-2222-3333-4444-555555555555";
constexpr const char* kKey = "66666666-7777-8888-9999-000000000000";

std::string one(db::PgPool& pg, const std::string& sql) {
  std::string out;
  auto st = pg.with_tx([&](pqxx::work& tx) -> Status {
    auto r = tx.exec(sql);
    out = r.empty() || r[0][0].is_null() ? "<null>" : r[0][0].as<std::string>();
    return Status::ok();
  });
  REQUIRE(st.is_ok());
  return out;
}

RequestLogEntry entry(std::string id) {
  RequestLogEntry e;
  e.request_id = std::move(id);
  e.tenant_id = kTenant;
  e.path = "/v1/completions";
  e.status = 200;
  e.latency_ms = 1.25;
  e.started_at = std::chrono::system_clock::now();
  return e;
}

TEST_CASE("request log: one flush writes every field, NULLs and quotes included") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  RequestLog log(pg, std::chrono::hours(24));

  RequestLogEntry full = entry("full-1");
  full.api_key_id = kKey;
  full.service_name = "svc";
  full.model = "it's \"quoted\" \\ model";
  full.stream = true;
  full.replica_id = "r1";
  full.node_id = "n1";
  full.center_id = "c1";
  full.replica_url = "http://127.0.0.1:1";
  full.attempts = 2;
  full.status = 502;
  full.error = std::string(1500, 'e');
  full.prompt_tokens = 7;
  full.cached_prompt_tokens = 3;
  full.completion_tokens = 5;
  full.ttfb_ms = 0.5;
  log.record(full);
  log.record(entry("bare-1"));  // no key, no service, no error, no ttfb
  CHECK(log.pending() == 2);
  REQUIRE(log.flush().is_ok());
  CHECK(log.pending() == 0);

  CHECK(one(pg, "SELECT model || '|' || service_name || '|' || stream || '|' || replica_id || '|' || node_id || '|' ||"
                " center_id || '|' || replica_url || '|' || attempts || '|' || status || '|' || prompt_tokens || '|' ||"
                " cached_prompt_tokens || '|' || completion_tokens || '|' || ttfb_ms || '|' || api_key_id"
                " FROM request_log WHERE request_id = 'full-1'") ==
        "it's \"quoted\" \\ model|svc|true|r1|n1|c1|http://127.0.0.1:1|2|502|7|3|5|0.5|" + std::string(kKey));
  CHECK(one(pg, "SELECT char_length(error) FROM request_log WHERE request_id = 'full-1'") == "1000");

  // An error is cut at 1000 characters, not bytes, and never inside one.
  RequestLogEntry wide = entry("wide-1");
  std::string chars;
  for (int i = 0; i < 1200; ++i) chars += "\xe6\x97\xa5";  // U+65E5, 3 bytes
  wide.error = chars;
  log.record(wide);
  REQUIRE(log.flush().is_ok());
  CHECK(one(pg, "SELECT char_length(error) || '|' || octet_length(error) FROM request_log"
                " WHERE request_id = 'wide-1'") == "1000|3000");
  CHECK(one(pg, "SELECT (api_key_id IS NULL) || '|' || (service_id IS NULL) || '|' || (error IS NULL) || '|' ||"
                " (ttfb_ms IS NULL) || '|' || (replica_url IS NULL) || '|' || latency_ms || '|' || path"
                " FROM request_log WHERE request_id = 'bare-1'") == "true|true|true|true|true|1.25|/v1/completions");
  CHECK(one(pg, "SELECT abs(extract(epoch FROM now() - started_at)) < 60 FROM request_log"
                " WHERE request_id = 'bare-1'") == "t");
}

TEST_CASE("request log: a large batch arrives whole") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  RequestLog log(pg, std::chrono::hours(24));
  for (int i = 0; i < 1203; ++i) log.record(entry("bulk-" + std::to_string(i)));
  REQUIRE(log.flush().is_ok());
  CHECK(one(pg, "SELECT count(*) FROM request_log WHERE request_id LIKE 'bulk-%'") == "1203");
  CHECK(one(pg, "SELECT count(DISTINCT request_id) FROM request_log") == "1203");
}

TEST_CASE("request log: control characters, NULs and ill-formed UTF-8 are stored safely") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  RequestLog log(pg, std::chrono::hours(24));
  struct Case {
    std::string model;
    std::string stored;  // what the row holds
  };
  const std::vector<Case> cases = {
      {"a\nb\tc\rd\x01" "e\x1f", "a\nb\tc\rd\x01" "e\x1f"},
      {std::string("nul\0byte", 8), "nulbyte"},
      {"caf\xc3\xa9 \xe6\x97\xa5", "caf\xc3\xa9 \xe6\x97\xa5"},  // valid UTF-8 unchanged
      {"bad\xff\xfe" "end", "bad\xef\xbf\xbd\xef\xbf\xbd" "end"},  // each ill-formed byte: U+FFFD
      {"\"\\/", "\"\\/"},
      {"\\N", "\\N"},    // COPY's NULL marker, as text
      {"\\.\n\\.", "\\.\n\\."},  // COPY's end-of-data marker, as text
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    RequestLogEntry e = entry("odd-" + std::to_string(i));
    e.model = cases[i].model;
    e.error = cases[i].model;
    log.record(e);
  }
  REQUIRE(log.flush().is_ok());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i);
    CHECK(one(pg, "SELECT model FROM request_log WHERE request_id = 'odd-" + std::to_string(i) + "'") ==
          cases[i].stored);
    CHECK(one(pg, "SELECT error FROM request_log WHERE request_id = 'odd-" + std::to_string(i) + "'") ==
          cases[i].stored);
  }
}

TEST_CASE("request log: a failed flush keeps the entries for the next one") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  RequestLog log(pg, std::chrono::hours(24));
  RequestLogEntry bad = entry("bad-1");
  bad.tenant_id = "not-a-uuid";
  log.record(bad);
  CHECK_FALSE(log.flush().is_ok());
  CHECK(log.pending() == 1);
}

}  // namespace
}  // namespace scn::broker

namespace scn::broker {
namespace {

TEST_CASE("request ids: sane, 28 hex digits, time first, distinct across threads") {
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const long long before = now_ms();
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& ids : per_thread) {
    threads.emplace_back([&ids] {
      for (int i = 0; i < 1000; ++i) ids.push_back(new_request_id());
    });
  }
  for (auto& t : threads) t.join();
  const long long after = now_ms();
  std::set<std::string> all;
  for (const auto& ids : per_thread) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::string& id = ids[i];
      REQUIRE(id.size() == 4 + 28);
      const long long ms = std::stoll(id.substr(4, 12), nullptr, 16);
      CHECK(ms >= before);
      CHECK(ms <= after);
      if (i > 0) CHECK(id.substr(4, 12) >= ids[i - 1].substr(4, 12));  // time-ordered
      CHECK(id.rfind("req_", 0) == 0);
      CHECK(id.find_first_not_of("0123456789abcdef", 4) == std::string::npos);
      CHECK(sane_request_id(id));
      all.insert(id);
    }
  }
  CHECK(all.size() == 4000);
}

}  // namespace
}  // namespace scn::broker
