#include "common/db/migrate.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "common/db/pg.h"
#include "common/log.h"

namespace scn::db {
namespace {

// pg_advisory_xact_lock key: "scnmigra" in ASCII.
constexpr long long kMigrateLockKey = 0x73636E6D69677261LL;

constexpr const char* kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY CHECK (version > 0),
  name       text NOT NULL,
  checksum   text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  applied_at timestamptz NOT NULL DEFAULT now()
))sql";

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

std::string file_name(const Migration& m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d_", m.version);
  return buf + std::string(m.name) + ".sql";
}

struct Applied {
  std::string name;
  std::string checksum;
};

// Reads schema_migrations (under the lock) and checks it against `known`.
Result<std::map<int, Applied>> read_applied(pqxx::work& tx, std::span<const Migration> known) {
  std::map<int, Applied> applied;
  for (const auto& row : tx.exec("SELECT version, name, checksum FROM schema_migrations")) {
    applied[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
  }
  const int latest_known = known.empty() ? 0 : known.back().version;
  if (!applied.empty() && applied.rbegin()->first > latest_known) {
    const auto& [v, a] = *applied.rbegin();
    return Status::conflict("the database schema is at version " + std::to_string(v) + " (" +
                            a.name + "), newer than this scn knows (latest " +
                            std::to_string(latest_known) + "): run a newer scn");
  }
  for (const auto& m : known) {
    auto it = applied.find(m.version);
    if (it == applied.end()) continue;
    if (it->second.checksum != sha256_hex(m.sql)) {
      return Status::conflict("migration " + file_name(m) +
                              " was changed after it was applied to this database "
                              "(sha256 differs); add a new migration instead");
    }
  }
  return applied;
}

}  // namespace

Result<MigrateOutcome> apply_migrations(PgPool& pool, std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version <= 0 || (i > 0 && migrations[i].version <= migrations[i - 1].version))
      return Status::invalid_argument("migrations must have ascending versions > 0");
  }
  MigrateOutcome outcome;
  bool first = true;
  for (;;) {
    // One transaction per migration: lock, re-read, apply the next pending one.
    Result<int> step = pool.with_tx([&](pqxx::work& tx) -> Result<int> {
      tx.exec("SET LOCAL client_min_messages = warning");
      tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrateLockKey) + ")");
      tx.exec(kCreateTable);
      SCN_ASSIGN_OR_RETURN(auto applied, read_applied(tx, migrations));
      if (first) outcome.from_version = applied.empty() ? 0 : applied.rbegin()->first;
      const Migration* next = nullptr;
      for (const auto& m : migrations) {
        if (!applied.count(m.version)) {
          next = &m;
          break;
        }
      }
      if (next == nullptr) return 0;
      try {
        tx.exec(std::string(next->sql));
      } catch (const std::exception& e) {
        return pg_status(e).with_context("migration " + file_name(*next));
      }
      tx.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                     next->version, std::string(next->name), sha256_hex(next->sql));
      return next->version;
    });
    if (!step.is_ok()) return step.status();
    first = false;
    if (*step == 0) break;
    outcome.applied.push_back(*step);
  }
  SCN_ASSIGN_OR_RETURN(outcome.to_version, schema_version(pool));
  return outcome;
}

Status migrate(PgPool& pool) {
  SCN_ASSIGN_OR_RETURN(MigrateOutcome out, apply_migrations(pool, embedded_migrations()));
  if (out.applied.empty()) {
    common::log_info("schema at version ", out.to_version, " (", pool.redacted_url(),
                     "), no migration to apply");
  } else {
    common::log_info("schema migrated from version ", out.from_version, " to ", out.to_version,
                     " (", out.applied.size(), " migrations applied, ", pool.redacted_url(), ")");
  }
  return Status::ok();
}

Result<int> schema_version(PgPool& pool) {
  return pool.with_tx([](pqxx::work& tx) -> Result<int> {
    auto exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!exists[0][0].as<bool>()) return 0;
    auto r = tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
    return r[0][0].as<int>();
  });
}

}  // namespace scn::db
