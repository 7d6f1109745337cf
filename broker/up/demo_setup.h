// The demo pool of `scn up`: which centers, nodes and accounts it has, and
// writing them into PostgreSQL idempotently.
//
// Contract:
//  - demo_plan() is fixed: centers bj-gpu (beijing: one simulated 8xH200),
//    gz-gpu (guangdong: simulated 8xA100 and 4xAscend-910B nodes) and sh-cpu
//    (shanghai: one real CPU node); an admin `admin`, an operator
//    `<center>-op` per center, a tenant `demo` with a member `demo`.
//  - import_demo_catalog() loads catalog/demo_catalog.json (found from the
//    source dir, SCN_SOURCE_DIR, next to the binary or the cwd), resolves its
//    file:// URIs against `shared_dir` (verifying size and sha256 of present
//    files) and imports it (CatalogStore: a rerun changes nothing).
//  - ensure_demo_accounts() finds each account by name or creates it; a new
//    user gets a fresh password recorded in `creds` (the caller saves it).
//    A user found without a recorded password keeps its unknown password
//    (reported as such). It then issues one fresh join token per center
//    (1 h, as many uses as the center has nodes).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "broker/up/up_files.h"
#include "common/crypto/crypto.h"
#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::broker {

struct DemoNode {
  std::string name;
  std::string simulate;  // "8xH200-141G"; empty: the real machine
};

struct DemoCenter {
  std::string name;
  std::string region;
  double price_gpu_hour = 0;
  double price_cpu_core_hour = 0;
  std::vector<DemoNode> nodes;
  std::string operator_name() const { return name + "-op"; }
};

struct DemoPlan {
  std::string admin = "admin";
  std::string tenant = "demo";
  std::string member = "demo";
  std::vector<DemoCenter> centers;
};

const DemoPlan& demo_plan();

struct DemoAccounts {
  std::string tenant_id;
  std::map<std::string, std::string> center_ids;   // center name -> id
  std::map<std::string, std::string> join_tokens;  // center name -> secret
};

// The folder holding catalog/demo_catalog.json, or kNotFound.
Result<std::filesystem::path> find_source_dir();
Status import_demo_catalog(db::PgPool& pg, const std::filesystem::path& shared_dir);
// `kdf`: the password hashing cost (tests pass a cheap one).
Result<DemoAccounts> ensure_demo_accounts(db::PgPool& pg, UpCredentials& creds,
                                          const crypto::KdfParams& kdf = {});

}  // namespace scn::broker
