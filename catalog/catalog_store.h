// CatalogStore: the model catalog in PostgreSQL (tables models and
// model_files, sql/0001_init.sql + sql/0002_catalog_facts.sql).
//
// Contract:
//  - import_catalog() upserts every model (by name) and every file (by model
//    and quantization) of a parsed catalog in ONE transaction: either all of
//    it is written or, on any error, nothing is. Re-importing the same
//    catalog changes nothing (rows whose values are equal are not touched,
//    so their updated_at stays) and reports them as unchanged. Models and
//    files in the database but not in the catalog are kept (services may
//    point at them).
//  - The catalog must be resolved: a relative file:// URI (see
//    catalog_file.h) is refused with kInvalidArgument before anything is
//    written. Other bad values are refused by the schema's constraints
//    (kInvalidArgument), as mapped by PgPool.
//  - list_models() returns every model with its files, ordered by family,
//    parameters, name (files by quantization name); get_model() one by name.
//    Cards carry their database ids; requirements() (model_card.h) and
//    card_view_json() (catalog_file.h) compute what a replica needs.
//  - get_model_file(file_id) returns the card owning that file, with
//    `files` holding only that file; kNotFound for an unknown or malformed id.
//  - check_launchable(file_id): OK when the file's weights are present,
//    kConflict "model 'x' (Q4_K_M): weights not present in any center" when
//    not, kNotFound for an unknown file.
//  - Rows whose quantization the catalog does not know (written by other
//    tools) are skipped with a warning; hidden_size and vocab_size read as 0
//    for rows written before migration 0002 (NULL there).
//  - Thread-safe as PgPool is; all errors are Status values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog_file.h"
#include "catalog/model_card.h"
#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::catalog {

struct ImportSummary {
  int models_inserted = 0;
  int models_updated = 0;
  int models_unchanged = 0;
  int files_inserted = 0;
  int files_updated = 0;
  int files_unchanged = 0;

  int models() const { return models_inserted + models_updated + models_unchanged; }
  int files() const { return files_inserted + files_updated + files_unchanged; }
  // "19 models (19 new, 0 updated, 0 unchanged), 42 files (...)"
  std::string to_string() const;
};

class CatalogStore {
 public:
  explicit CatalogStore(db::PgPool& pool) : pool_(pool) {}

  Result<ImportSummary> import_catalog(const Catalog& catalog);

  Result<std::vector<ModelCard>> list_models();
  Result<ModelCard> get_model(std::string_view name);
  Result<ModelCard> get_model_file(std::string_view file_id);
  Status check_launchable(std::string_view file_id);

 private:
  db::PgPool& pool_;
};

}  // namespace scn::catalog
