#include "catalog/catalog_store.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "common/db/test_db.h"
#include "tests/testing.h"

namespace scn::catalog {
namespace {

namespace fs = std::filesystem;
using db::testing::make_test_database;

// The demo catalog with its local files resolved against ../shared, or
// nullopt (after failing in CI) when ../shared is not there.
std::optional<Catalog> demo_catalog() {
  auto cat = load_catalog_file((fs::path(__FILE__).parent_path() / "demo_catalog.json").string());
  REQUIRE_MESSAGE(cat.is_ok(), cat.status().to_string());
  if (!fs::exists(scn::testing::shared_path("models/stories260K.gguf"))) {
    if (scn::testing::in_ci()) FAIL("missing ../shared/models/stories260K.gguf");
    MESSAGE("SKIPPED: no ../shared");
    return std::nullopt;
  }
  Status st = resolve_local_files(*cat, {scn::testing::shared_dir(), true});
  REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  return std::move(cat).value();
}

ModelCard without_ids(ModelCard c) {
  c.id.clear();
  for (auto& f : c.files) f.id.clear();
  return c;
}

int64_t count(db::PgPool& pool, const std::string& table) {
  auto n = pool.with_tx([&](pqxx::work& tx) -> Result<int64_t> {
    return tx.exec1("SELECT count(*) FROM " + table)[0].as<int64_t>();
  });
  REQUIRE_MESSAGE(n.is_ok(), n.status().to_string());
  return *n;
}

std::string last_update(db::PgPool& pool) {
  auto s = pool.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    return tx.exec1("SELECT (SELECT max(updated_at) FROM models)::text || ' ' || "
                    "(SELECT max(updated_at) FROM model_files)::text")[0]
        .as<std::string>();
  });
  REQUIRE(s.is_ok());
  return *s;
}

TEST_CASE("import stores the demo catalog and reads it back equal") {
  auto db = make_test_database();
  if (!db) return;
  auto cat = demo_catalog();
  if (!cat) return;
  CatalogStore store(**db);

  auto first = store.import_catalog(*cat);
  REQUIRE_MESSAGE(first.is_ok(), first.status().to_string());
  CHECK(first->models_inserted == 19);
  CHECK(first->files_inserted == 42);
  CHECK(first->models_updated + first->models_unchanged + first->files_updated + first->files_unchanged == 0);
  CHECK(first->to_string() == "19 models (19 new, 0 updated, 0 unchanged), 42 files (42 new, 0 updated, 0 unchanged)");

  auto cards = store.list_models();
  REQUIRE_MESSAGE(cards.is_ok(), cards.status().to_string());
  REQUIRE(cards->size() == cat->models.size());
  for (const auto& c : *cards) {
    CAPTURE(c.name);
    CHECK_FALSE(c.id.empty());
    for (const auto& f : c.files) CHECK_FALSE(f.id.empty());
    const ModelCard* want = cat->find(c.name);
    REQUIRE(want != nullptr);
    ModelCard sorted = *want;
    std::sort(sorted.files.begin(), sorted.files.end(), [](const ModelFile& a, const ModelFile& b) {
      return quant_name(a.quantization) < quant_name(b.quantization);
    });
    CHECK(without_ids(c) == sorted);
  }
  // Ordered by family, then size.
  CHECK((*cards)[0].family == "deepseek-r1-distill");
  CHECK((*cards)[0].name == "deepseek-r1-distill-qwen-1.5b");

  auto qwen = store.get_model("qwen2.5-7b-instruct");
  REQUIRE(qwen.is_ok());
  CHECK(qwen->facts.n_kv_heads == 4);
  CHECK(requirements(*qwen, *qwen->file(Quant::kQ4_K_M)).kv_bytes_per_token == 114688);
  CHECK(store.get_model("no-such-model").status().code() == Code::kNotFound);
}

TEST_CASE("re-importing is idempotent; changes are updated in place") {
  auto db = make_test_database();
  if (!db) return;
  auto cat = demo_catalog();
  if (!cat) return;
  CatalogStore store(**db);
  REQUIRE(store.import_catalog(*cat).is_ok());
  const std::string stamp = last_update(**db);

  auto again = store.import_catalog(*cat);
  REQUIRE_MESSAGE(again.is_ok(), again.status().to_string());
  CHECK(again->models_unchanged == 19);
  CHECK(again->files_unchanged == 42);
  CHECK(again->models_inserted + again->models_updated + again->files_inserted + again->files_updated == 0);
  CHECK(last_update(**db) == stamp);  // no row was touched
  CHECK(count(**db, "models") == 19);
  CHECK(count(**db, "model_files") == 42);

  Catalog changed = *cat;
  ModelCard& gemma = changed.models.back();
  REQUIRE(gemma.name == "gemma-2-27b-it");
  gemma.licence = "Gemma Terms of Use (2024)";
  gemma.files[0].size_bytes += 1;
  auto third = store.import_catalog(changed);
  REQUIRE(third.is_ok());
  CHECK(third->models_updated == 1);
  CHECK(third->models_unchanged == 18);
  CHECK(third->files_updated == 1);
  CHECK(third->files_unchanged == 41);
  auto g = store.get_model("gemma-2-27b-it");
  REQUIRE(g.is_ok());
  CHECK(g->licence == "Gemma Terms of Use (2024)");

  // A file left out of a later catalog stays (services may point at it).
  Catalog fewer;
  fewer.models.push_back(*cat->find("qwen2.5-0.5b-instruct"));
  fewer.models[0].files.resize(1);
  auto fourth = store.import_catalog(fewer);
  REQUIRE(fourth.is_ok());
  CHECK(fourth->models_unchanged == 1);
  CHECK(count(**db, "model_files") == 42);
}

TEST_CASE("a failing import writes nothing") {
  auto db = make_test_database();
  if (!db) return;
  auto cat = demo_catalog();
  if (!cat) return;
  CatalogStore store(**db);

  // The schema refuses the last model (bypassing the file parser): the ones
  // before it, already written in the transaction, are rolled back.
  Catalog bad = *cat;
  bad.models.back().display_name = "";
  auto r = store.import_catalog(bad);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(count(**db, "models") == 0);
  CHECK(count(**db, "model_files") == 0);

  // Unresolved relative file:// URIs are refused before anything is written.
  auto raw = load_catalog_file((fs::path(__FILE__).parent_path() / "demo_catalog.json").string());
  REQUIRE(raw.is_ok());
  auto rel = store.import_catalog(*raw);
  CHECK(rel.status().code() == Code::kInvalidArgument);
  CHECK(rel.status().message().find("is relative") != std::string::npos);
  CHECK(count(**db, "models") == 0);
}

TEST_CASE("check_launchable: present weights launch, absent ones are 409") {
  auto db = make_test_database();
  if (!db) return;
  auto cat = demo_catalog();
  if (!cat) return;
  CatalogStore store(**db);
  REQUIRE(store.import_catalog(*cat).is_ok());

  auto stories = store.get_model("stories260k");
  REQUIRE(stories.is_ok());
  const std::string stories_file = stories->files.at(0).id;
  CHECK(store.check_launchable(stories_file).is_ok());
  auto by_file = store.get_model_file(stories_file);
  REQUIRE(by_file.is_ok());
  CHECK(by_file->name == "stories260k");
  REQUIRE(by_file->files.size() == 1);
  CHECK(by_file->files[0].id == stories_file);
  CHECK(by_file->files[0].uri->rfind("file:///", 0) == 0);

  auto llama = store.get_model("llama-3.3-70b-instruct");
  REQUIRE(llama.is_ok());
  Status st = store.check_launchable(llama->file(Quant::kQ4_K_M)->id);
  CHECK(st.code() == Code::kConflict);
  CHECK(st.http_status() == 409);
  CHECK(st.message() == "model 'llama-3.3-70b-instruct' (Q4_K_M): weights not present in any center");

  CHECK(store.check_launchable("00000000-0000-0000-0000-000000000000").code() == Code::kNotFound);
  CHECK(store.check_launchable("not-a-uuid").code() == Code::kNotFound);
  CHECK(store.get_model_file("").status().code() == Code::kNotFound);
}

}  // namespace
}  // namespace scn::catalog
