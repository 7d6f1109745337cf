#include "catalog/catalog_store.h"

#include <algorithm>
#include <map>

#include "common/db/pg.h"
#include "common/uuid.h"
#include "common/log.h"

namespace scn::catalog {

namespace {

const char* opt_cstr(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }

using common::is_uuid;

// Upsert returning (id, inserted) for a changed row; no row when the stored
// row already equals the new values.
constexpr const char* kUpsertModel = R"sql(
INSERT INTO models (name, display_name, family, architecture, parameters, context_length,
                    n_layers, n_heads, n_kv_heads, head_dim, licence, description,
                    hidden_size, vocab_size, source_url)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (name) DO UPDATE SET
  display_name = EXCLUDED.display_name, family = EXCLUDED.family,
  architecture = EXCLUDED.architecture, parameters = EXCLUDED.parameters,
  context_length = EXCLUDED.context_length, n_layers = EXCLUDED.n_layers,
  n_heads = EXCLUDED.n_heads, n_kv_heads = EXCLUDED.n_kv_heads, head_dim = EXCLUDED.head_dim,
  licence = EXCLUDED.licence, description = EXCLUDED.description,
  hidden_size = EXCLUDED.hidden_size, vocab_size = EXCLUDED.vocab_size,
  source_url = EXCLUDED.source_url
WHERE (models.display_name, models.family, models.architecture, models.parameters,
       models.context_length, models.n_layers, models.n_heads, models.n_kv_heads,
       models.head_dim, models.licence, models.description, models.hidden_size,
       models.vocab_size, models.source_url)
   IS DISTINCT FROM
      (EXCLUDED.display_name, EXCLUDED.family, EXCLUDED.architecture, EXCLUDED.parameters,
       EXCLUDED.context_length, EXCLUDED.n_layers, EXCLUDED.n_heads, EXCLUDED.n_kv_heads,
       EXCLUDED.head_dim, EXCLUDED.licence, EXCLUDED.description, EXCLUDED.hidden_size,
       EXCLUDED.vocab_size, EXCLUDED.source_url)
RETURNING id, (xmax = 0) AS inserted
)sql";

constexpr const char* kUpsertFile = R"sql(
INSERT INTO model_files (model_id, quantization, file_name, size_bytes, size_source, sha256, uri)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (model_id, quantization) DO UPDATE SET
  file_name = EXCLUDED.file_name, size_bytes = EXCLUDED.size_bytes,
  size_source = EXCLUDED.size_source, sha256 = EXCLUDED.sha256, uri = EXCLUDED.uri
WHERE (model_files.file_name, model_files.size_bytes, model_files.size_source,
       model_files.sha256, model_files.uri)
   IS DISTINCT FROM
      (EXCLUDED.file_name, EXCLUDED.size_bytes, EXCLUDED.size_source, EXCLUDED.sha256, EXCLUDED.uri)
RETURNING id, (xmax = 0) AS inserted
)sql";

constexpr const char* kModelColumns =
    "id, name, display_name, family, architecture, parameters, context_length, n_layers, "
    "n_heads, n_kv_heads, head_dim, licence, description, hidden_size, vocab_size, source_url";
constexpr const char* kFileColumns =
    "id, model_id, quantization, file_name, size_bytes, size_source, sha256, uri";

int64_t int_or_zero(const pqxx::field& f) { return f.is_null() ? 0 : f.as<int64_t>(); }

std::optional<std::string> opt_text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

ModelCard card_of_row(const pqxx::row& r) {
  ModelCard c;
  c.id = r[0].as<std::string>();
  c.name = r[1].as<std::string>();
  c.display_name = r[2].as<std::string>();
  c.family = r[3].as<std::string>();
  c.facts.architecture = r[4].as<std::string>();
  c.facts.parameters = r[5].as<int64_t>();
  c.facts.context_length = r[6].as<int64_t>();
  c.facts.n_layers = r[7].as<int64_t>();
  c.facts.n_heads = r[8].as<int64_t>();
  c.facts.n_kv_heads = r[9].as<int64_t>();
  c.facts.head_dim = r[10].as<int64_t>();
  c.licence = r[11].as<std::string>();
  c.description = r[12].as<std::string>();
  c.facts.hidden_size = int_or_zero(r[13]);
  c.facts.vocab_size = int_or_zero(r[14]);
  c.source_url = opt_text(r[15]);
  return c;
}

// The file of a row, or nullopt (logged) when its quantization is unknown.
std::optional<ModelFile> file_of_row(const pqxx::row& r) {
  const std::string q = r[2].as<std::string>();
  auto quant = parse_quant(q);
  if (!quant) {
    common::log_warn("catalog: skipping model file ", r[0].as<std::string>(),
                     " with unknown quantization '", q, "'");
    return std::nullopt;
  }
  ModelFile f;
  f.id = r[0].as<std::string>();
  f.quantization = *quant;
  f.file_name = r[3].as<std::string>();
  f.size_bytes = r[4].as<int64_t>();
  f.size_source = parse_size_source(r[5].as<std::string>()).value_or(SizeSource::kExact);
  f.sha256 = opt_text(r[6]);
  f.uri = opt_text(r[7]);
  return f;
}

void sort_files(ModelCard& c) {
  std::sort(c.files.begin(), c.files.end(), [](const ModelFile& a, const ModelFile& b) {
    return quant_name(a.quantization) < quant_name(b.quantization);
  });
}

}  // namespace

std::string ImportSummary::to_string() const {
  return std::to_string(models()) + " models (" + std::to_string(models_inserted) + " new, " +
         std::to_string(models_updated) + " updated, " + std::to_string(models_unchanged) +
         " unchanged), " + std::to_string(files()) + " files (" + std::to_string(files_inserted) +
         " new, " + std::to_string(files_updated) + " updated, " +
         std::to_string(files_unchanged) + " unchanged)";
}

Result<ImportSummary> CatalogStore::import_catalog(const Catalog& catalog) {
  for (const auto& card : catalog.models)
    for (const auto& f : card.files)
      if (f.uri && f.uri->rfind("file://", 0) == 0 && (f.uri->size() < 8 || (*f.uri)[7] != '/'))
        return Status::invalid_argument("model '" + card.name + "' file " +
                                        std::string(quant_name(f.quantization)) + ": " + *f.uri +
                                        " is relative; resolve it against the shared folder first");
  return pool_.with_tx([&](pqxx::work& tx) -> Result<ImportSummary> {
    ImportSummary s;
    for (const auto& c : catalog.models) {
      const auto& f = c.facts;
      pqxx::result r = tx.exec_params(
          kUpsertModel, c.name, c.display_name, c.family, f.architecture, f.parameters,
          f.context_length, f.n_layers, f.n_heads, f.n_kv_heads, f.head_dim, c.licence,
          c.description, f.hidden_size, f.vocab_size, opt_cstr(c.source_url));
      std::string model_id;
      if (r.empty()) {
        ++s.models_unchanged;
        model_id = tx.exec_params1("SELECT id FROM models WHERE name = $1", c.name)[0].as<std::string>();
      } else {
        model_id = r[0][0].as<std::string>();
        ++(r[0][1].as<bool>() ? s.models_inserted : s.models_updated);
      }
      for (const auto& file : c.files) {
        pqxx::result fr = tx.exec_params(
            kUpsertFile, model_id, std::string(quant_name(file.quantization)), file.file_name,
            file.size_bytes, std::string(size_source_name(file.size_source)),
            opt_cstr(file.sha256), opt_cstr(file.uri));
        if (fr.empty())
          ++s.files_unchanged;
        else
          ++(fr[0][1].as<bool>() ? s.files_inserted : s.files_updated);
      }
    }
    return s;
  });
}

Result<std::vector<ModelCard>> CatalogStore::list_models() {
  return pool_.with_tx(
      [&](pqxx::work& tx) -> Result<std::vector<ModelCard>> {
        std::vector<ModelCard> cards;
        std::map<std::string, size_t> index;
        for (const auto& row : tx.exec(std::string("SELECT ") + kModelColumns +
                                       " FROM models ORDER BY family, parameters, name")) {
          index[row[0].as<std::string>()] = cards.size();
          cards.push_back(card_of_row(row));
        }
        for (const auto& row : tx.exec(std::string("SELECT ") + kFileColumns + " FROM model_files")) {
          auto it = index.find(row[1].as<std::string>());
          if (it == index.end()) continue;
          if (auto f = file_of_row(row)) cards[it->second].files.push_back(std::move(*f));
        }
        for (auto& c : cards) sort_files(c);
        return cards;
      },
      db::TxOptions{db::Isolation::kRepeatableRead, /*read_only=*/true});
}

Result<ModelCard> CatalogStore::get_model(std::string_view name) {
  const std::string n(name);
  return pool_.with_tx(
      [&](pqxx::work& tx) -> Result<ModelCard> {
        pqxx::result r = tx.exec_params(
            std::string("SELECT ") + kModelColumns + " FROM models WHERE name = $1", n);
        if (r.empty()) return Status::not_found("no model '" + n + "' in the catalog");
        ModelCard c = card_of_row(r[0]);
        for (const auto& row : tx.exec_params(std::string("SELECT ") + kFileColumns +
                                                  " FROM model_files WHERE model_id = $1",
                                              c.id))
          if (auto f = file_of_row(row)) c.files.push_back(std::move(*f));
        sort_files(c);
        return c;
      },
      db::TxOptions{db::Isolation::kRepeatableRead, /*read_only=*/true});
}

Result<ModelCard> CatalogStore::get_model_file(std::string_view file_id) {
  const std::string id(file_id);
  if (!is_uuid(id)) return Status::not_found("no model file '" + id + "'");
  return pool_.with_tx(
      [&](pqxx::work& tx) -> Result<ModelCard> {
        pqxx::result fr = tx.exec_params(
            std::string("SELECT ") + kFileColumns + " FROM model_files WHERE id = $1", id);
        if (fr.empty()) return Status::not_found("no model file '" + id + "'");
        auto file = file_of_row(fr[0]);
        if (!file)
          return Status::unprocessable("model file '" + id + "' has a quantization the catalog does not know");
        pqxx::result mr = tx.exec_params(
            std::string("SELECT ") + kModelColumns + " FROM models WHERE id = $1",
            fr[0][1].as<std::string>());
        if (mr.empty()) return Status::not_found("no model for model file '" + id + "'");
        ModelCard c = card_of_row(mr[0]);
        c.files.push_back(std::move(*file));
        return c;
      },
      db::TxOptions{db::Isolation::kRepeatableRead, /*read_only=*/true});
}

Status CatalogStore::check_launchable(std::string_view file_id) {
  SCN_ASSIGN_OR_RETURN(ModelCard c, get_model_file(file_id));
  return catalog::check_launchable(c, c.files.front());
}

}  // namespace scn::catalog
