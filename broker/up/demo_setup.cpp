#include "broker/up/demo_setup.h"

#include <cstdlib>

#include "broker/accounts.h"
#include "catalog/catalog_file.h"
#include "catalog/catalog_store.h"
#include "common/log.h"
#include "common/process/subprocess.h"

namespace scn::broker {

namespace fs = std::filesystem;

const DemoPlan& demo_plan() {
  static const DemoPlan plan = [] {
    DemoPlan p;
    p.centers = {
        {"bj-gpu", "beijing", 2.60, 0.06, {{"bj-gpu-1", "8xH200-141G"}}},
        {"gz-gpu", "guangdong", 1.80, 0.05, {{"gz-gpu-1", "8xA100-80G"}, {"gz-gpu-2", "4xAscend-910B-64G"}}},
        {"sh-cpu", "shanghai", 0.0, 0.04, {{"sh-cpu-1", ""}}},
    };
    return p;
  }();
  return plan;
}

Result<fs::path> find_source_dir() {
  std::vector<fs::path> candidates;
  if (const char* s = std::getenv("SCN_SOURCE_DIR"); s != nullptr && *s != '\0') candidates.emplace_back(s);
  // build/scn -> the repository is the binary's parent's parent.
  const fs::path exe = process::self_executable();
  if (!exe.empty()) {
    candidates.push_back(exe.parent_path().parent_path());
    candidates.push_back(exe.parent_path());
  }
  std::error_code ec;
  candidates.push_back(fs::current_path(ec));
  for (const auto& c : candidates)
    if (fs::exists(c / "catalog" / "demo_catalog.json", ec)) return fs::absolute(c);
  return Status::not_found(
      "catalog/demo_catalog.json not found (looked in SCN_SOURCE_DIR, next to the scn binary and in the "
      "current directory); run scn up from the repository");
}

Status import_demo_catalog(db::PgPool& pg, const fs::path& shared_dir) {
  SCN_ASSIGN_OR_RETURN(fs::path source, find_source_dir());
  const std::string file = (source / "catalog" / "demo_catalog.json").string();
  SCN_ASSIGN_OR_RETURN(auto catalog, catalog::load_catalog_file(file));
  catalog::ResolveOptions ro;
  ro.shared_dir = shared_dir;
  ro.verify = true;
  if (Status st = catalog::resolve_local_files(catalog, ro); !st.is_ok())
    return st.with_context(file + " (shared dir " + shared_dir.string() + ")");
  catalog::CatalogStore store(pg);
  auto summary = store.import_catalog(catalog);
  if (!summary.is_ok()) return summary.status().with_context("import " + file);
  common::log_info("scn up: catalog ", summary->to_string());
  return Status::ok();
}

namespace {

// Finds `spec.username` or creates it with a fresh password kept in creds.
Status ensure_user(db::PgPool& pg, NewUser spec, UpCredentials& creds, const Actor& actor,
                   const crypto::KdfParams& kdf) {
  auto found = find_user(pg, spec.username);
  if (found.is_ok()) {
    if (!creds.passwords.count(spec.username))
      common::log_warn("scn up: user ", spec.username, " exists but its password is not in credentials.json");
    return Status::ok();
  }
  if (found.status().code() != Code::kNotFound) return found.status();
  auto it = creds.passwords.find(spec.username);
  if (it == creds.passwords.end()) {
    SCN_ASSIGN_OR_RETURN(std::string pw, new_password());
    it = creds.passwords.emplace(spec.username, pw).first;
  }
  spec.password = it->second;
  auto created = create_user(pg, spec, actor, kdf);
  if (!created.is_ok()) return created.status().with_context("create user " + spec.username);
  return Status::ok();
}

}  // namespace

Result<DemoAccounts> ensure_demo_accounts(db::PgPool& pg, UpCredentials& creds,
                                          const crypto::KdfParams& kdf) {
  const DemoPlan& plan = demo_plan();
  Actor actor;
  actor.name = "scn up";
  DemoAccounts out;

  SCN_RETURN_IF_ERROR(ensure_user(pg, {plan.admin, "", Role::kAdmin, "", ""}, creds, actor, kdf));
  for (const auto& c : plan.centers) {
    auto center = find_center(pg, c.name);
    if (!center.is_ok() && center.status().code() == Code::kNotFound)
      center = create_center(pg, {c.name, c.region, c.price_gpu_hour, c.price_cpu_core_hour}, actor);
    if (!center.is_ok()) return center.status().with_context("center " + c.name);
    out.center_ids[c.name] = center->id;
    SCN_RETURN_IF_ERROR(
        ensure_user(pg, {c.operator_name(), "", Role::kOperator, "", center->id}, creds, actor, kdf));
  }
  auto tenant = find_tenant(pg, plan.tenant);
  if (!tenant.is_ok() && tenant.status().code() == Code::kNotFound) {
    NewTenant t;
    t.name = plan.tenant;
    t.display_name = "Demo tenant";
    tenant = create_tenant(pg, t, actor);
  }
  if (!tenant.is_ok()) return tenant.status().with_context("tenant " + plan.tenant);
  out.tenant_id = tenant->id;
  SCN_RETURN_IF_ERROR(ensure_user(pg, {plan.member, "", Role::kMember, tenant->id, ""}, creds, actor, kdf));

  for (const auto& c : plan.centers) {
    NewJoinToken spec;
    spec.center_id = out.center_ids[c.name];
    spec.ttl_seconds = 3600;
    spec.max_uses = static_cast<int>(c.nodes.size());
    auto token = create_join_token(pg, spec, actor);
    if (!token.is_ok()) return token.status().with_context("join token for " + c.name);
    out.join_tokens[c.name] = token->secret;
  }
  return out;
}

}  // namespace scn::broker
