#include "catalog/catalog_file.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>

#include "catalog/gguf_card.h"
#include "common/json.h"

namespace scn::catalog {

namespace {

namespace json = boost::json;
using common::JsonObject;

constexpr int64_t kPgIntMax = std::numeric_limits<int32_t>::max();
constexpr int64_t kPgBigintMax = std::numeric_limits<int64_t>::max();

Status check_fields(const JsonObject& obj, std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : obj) {
    bool known = false;
    for (auto a : allowed) known = known || kv.key() == a;
    if (!known) return Status::invalid_argument("unknown field '" + std::string(kv.key()) + "'");
  }
  return Status::ok();
}

// Characters (code points) of valid UTF-8, as PostgreSQL's char_length counts.
size_t char_count(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(s[0])) return false;
  for (char c : s)
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool has_prefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

Result<std::string> require_text(const JsonObject& obj, std::string_view key, size_t max_chars) {
  SCN_ASSIGN_OR_RETURN(std::string v, common::require_string(obj, key));
  if (v.empty()) return Status::invalid_argument("field '" + std::string(key) + "' must not be empty");
  if (char_count(v) > max_chars)
    return Status::invalid_argument("field '" + std::string(key) + "' is longer than " +
                                    std::to_string(max_chars) + " characters");
  return v;
}

Result<int64_t> require_positive(const JsonObject& obj, std::string_view key, int64_t max) {
  SCN_ASSIGN_OR_RETURN(int64_t v, common::require_int(obj, key));
  if (v <= 0) return Status::invalid_argument("field '" + std::string(key) + "' must be positive");
  if (v > max)
    return Status::invalid_argument("field '" + std::string(key) + "' is larger than " +
                                    std::to_string(max));
  return v;
}

Result<ModelFile> parse_file(const JsonObject& obj, int64_t parameters) {
  SCN_RETURN_IF_ERROR(check_fields(obj, {"quantization", "file_name", "size_bytes", "size_source",
                                         "weights_present", "sha256", "uri"}));
  ModelFile f;
  SCN_ASSIGN_OR_RETURN(std::string q, common::require_string(obj, "quantization"));
  auto quant = parse_quant(q);
  if (!quant)
    return Status::invalid_argument("field 'quantization': unknown quantization '" + q +
                                    "' (known: " + known_quant_names() + ")");
  f.quantization = *quant;

  SCN_ASSIGN_OR_RETURN(f.file_name, require_text(obj, "file_name", 255));
  if (f.file_name.find_first_of("/\\") != std::string::npos)
    return Status::invalid_argument("field 'file_name' must be a bare file name (no '/' or '\\')");

  SCN_ASSIGN_OR_RETURN(std::string source, common::get_string(obj, "size_source", "exact"));
  auto ss = parse_size_source(source);
  if (!ss)
    return Status::invalid_argument("field 'size_source' must be \"exact\" or \"estimated\" (got \"" +
                                    source + "\")");
  f.size_source = *ss;
  SCN_ASSIGN_OR_RETURN(auto size, common::get_optional_int(obj, "size_bytes"));
  if (size) {
    if (*size <= 0) return Status::invalid_argument("field 'size_bytes' must be positive");
    f.size_bytes = *size;
  } else if (f.size_source == SizeSource::kEstimated) {
    SCN_ASSIGN_OR_RETURN(f.size_bytes, estimate_file_bytes(parameters, f.quantization));
  } else {
    return Status::invalid_argument(
        "field 'size_bytes' is required (it may be omitted only with \"size_source\": \"estimated\")");
  }

  SCN_ASSIGN_OR_RETURN(bool present, common::require_bool(obj, "weights_present"));
  SCN_ASSIGN_OR_RETURN(f.sha256, common::get_optional_string(obj, "sha256"));
  SCN_ASSIGN_OR_RETURN(f.uri, common::get_optional_string(obj, "uri"));
  if (f.sha256 && !is_sha256_hex(*f.sha256))
    return Status::invalid_argument("field 'sha256' must be 64 lower-case hex digits");
  if (f.uri && !((has_prefix(*f.uri, "http://") && f.uri->size() > 7) ||
                 (has_prefix(*f.uri, "https://") && f.uri->size() > 8) ||
                 (has_prefix(*f.uri, "file://") && f.uri->size() > 7)))
    return Status::invalid_argument("field 'uri' must be an http://, https:// or file:// URI");
  if (present) {
    if (!f.uri) return Status::invalid_argument("field 'uri' is required when weights_present is true");
    if (!f.sha256)
      return Status::invalid_argument("field 'sha256' is required when weights_present is true");
    if (f.size_source != SizeSource::kExact)
      return Status::invalid_argument(
          "field 'size_source' must be \"exact\" when weights_present is true");
  } else {
    if (f.uri)
      return Status::invalid_argument("field 'uri' must be null when weights_present is false");
    if (f.sha256)
      return Status::invalid_argument("field 'sha256' must be null when weights_present is false");
  }
  return f;
}

Result<ModelCard> parse_model(const JsonObject& obj) {
  SCN_RETURN_IF_ERROR(check_fields(
      obj, {"name", "display_name", "family", "architecture", "parameters", "n_layers",
            "hidden_size", "n_heads", "n_kv_heads", "head_dim", "context_length", "vocab_size",
            "licence", "description", "source_url", "files"}));
  ModelCard c;
  SCN_ASSIGN_OR_RETURN(c.name, common::require_string(obj, "name"));
  if (!valid_name(c.name))
    return Status::invalid_argument("field 'name' must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  SCN_ASSIGN_OR_RETURN(c.display_name, require_text(obj, "display_name", 200));
  SCN_ASSIGN_OR_RETURN(c.family, require_text(obj, "family", 100));
  SCN_ASSIGN_OR_RETURN(c.licence, require_text(obj, "licence", 200));
  SCN_ASSIGN_OR_RETURN(c.description, common::get_string(obj, "description", ""));
  SCN_ASSIGN_OR_RETURN(c.source_url, common::get_optional_string(obj, "source_url"));
  if (c.source_url && !((has_prefix(*c.source_url, "http://") && c.source_url->size() > 7) ||
                        (has_prefix(*c.source_url, "https://") && c.source_url->size() > 8)))
    return Status::invalid_argument("field 'source_url' must be an http:// or https:// URL");

  ModelFacts& f = c.facts;
  SCN_ASSIGN_OR_RETURN(f.architecture, require_text(obj, "architecture", 100));
  SCN_ASSIGN_OR_RETURN(f.parameters, require_positive(obj, "parameters", kPgBigintMax));
  SCN_ASSIGN_OR_RETURN(f.n_layers, require_positive(obj, "n_layers", kPgIntMax));
  SCN_ASSIGN_OR_RETURN(f.hidden_size, require_positive(obj, "hidden_size", kPgIntMax));
  SCN_ASSIGN_OR_RETURN(f.n_heads, require_positive(obj, "n_heads", kPgIntMax));
  SCN_ASSIGN_OR_RETURN(f.n_kv_heads, require_positive(obj, "n_kv_heads", kPgIntMax));
  SCN_ASSIGN_OR_RETURN(f.head_dim, require_positive(obj, "head_dim", kPgIntMax));
  SCN_ASSIGN_OR_RETURN(f.context_length, require_positive(obj, "context_length", kPgIntMax));
  SCN_ASSIGN_OR_RETURN(f.vocab_size, require_positive(obj, "vocab_size", kPgIntMax));
  if (f.n_kv_heads > f.n_heads || f.n_heads % f.n_kv_heads != 0)
    return Status::invalid_argument("field 'n_kv_heads' (" + std::to_string(f.n_kv_heads) +
                                    ") must divide n_heads (" + std::to_string(f.n_heads) + ")");

  SCN_ASSIGN_OR_RETURN(const json::array* files, common::require_array(obj, "files"));
  if (files->empty()) return Status::invalid_argument("field 'files' must list at least one file");
  std::set<Quant> seen;
  for (size_t i = 0; i < files->size(); ++i) {
    const json::value& v = (*files)[i];
    std::string where = "files[" + std::to_string(i) + "]";
    if (!v.is_object())
      return Status::invalid_argument(where + " must be an object (got " +
                                      std::string(common::json_type_name(v)) + ")");
    if (const auto* q = v.as_object().if_contains("quantization"); q && q->is_string())
      where += " (" + std::string(q->get_string()) + ")";
    auto file = parse_file(v.as_object(), f.parameters);
    if (!file.is_ok()) return file.status().with_context(where);
    if (!seen.insert(file->quantization).second)
      return Status::invalid_argument(where + ": quantization " +
                                      std::string(quant_name(file->quantization)) +
                                      " is listed twice");
    c.files.push_back(std::move(file).value());
  }
  return c;
}

json::value opt_string(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

json::object file_to_json(const ModelFile& f) {
  json::object o;
  o["quantization"] = quant_name(f.quantization);
  o["file_name"] = f.file_name;
  o["size_bytes"] = f.size_bytes;
  o["size_source"] = size_source_name(f.size_source);
  o["weights_present"] = f.weights_present();
  o["sha256"] = opt_string(f.sha256);
  o["uri"] = opt_string(f.uri);
  return o;
}

}  // namespace

const ModelCard* Catalog::find(std::string_view name) const {
  for (const auto& m : models)
    if (m.name == name) return &m;
  return nullptr;
}

Result<Catalog> parse_catalog(std::string_view json_text) {
  SCN_ASSIGN_OR_RETURN(JsonObject root, common::parse_json_object(json_text));
  SCN_RETURN_IF_ERROR(check_fields(root, {"version", "description", "models"}));
  Catalog cat;
  SCN_ASSIGN_OR_RETURN(int64_t version, common::require_int(root, "version"));
  if (version != 1)
    return Status::invalid_argument("field 'version': catalog version " + std::to_string(version) +
                                    " is not supported (this scn reads version 1)");
  cat.version = 1;
  SCN_ASSIGN_OR_RETURN(cat.description, common::get_string(root, "description", ""));
  SCN_ASSIGN_OR_RETURN(const json::array* models, common::require_array(root, "models"));
  std::set<std::string, std::less<>> names;
  for (size_t i = 0; i < models->size(); ++i) {
    const json::value& v = (*models)[i];
    std::string where = "models[" + std::to_string(i) + "]";
    if (!v.is_object())
      return Status::invalid_argument(where + " must be an object (got " +
                                      std::string(common::json_type_name(v)) + ")");
    if (const auto* n = v.as_object().if_contains("name"); n && n->is_string())
      where += " (" + std::string(n->get_string()) + ")";
    auto card = parse_model(v.as_object());
    if (!card.is_ok()) return card.status().with_context(where);
    if (!names.insert(card->name).second)
      return Status::invalid_argument(where + ": model name '" + card->name + "' is listed twice");
    cat.models.push_back(std::move(card).value());
  }
  return cat;
}

Result<Catalog> load_catalog_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("cannot open catalog file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::io_error("cannot read catalog file '" + path + "'");
  auto cat = parse_catalog(text.str());
  if (!cat.is_ok()) return cat.status().with_context(path);
  return cat;
}

Status resolve_local_files(Catalog& catalog, const ResolveOptions& options) {
  namespace fs = std::filesystem;
  for (auto& card : catalog.models) {
    for (auto& file : card.files) {
      if (!file.uri || !has_prefix(*file.uri, "file://")) continue;
      const std::string where =
          "model '" + card.name + "' file " + std::string(quant_name(file.quantization));
      std::string path = file.uri->substr(7);
      fs::path p = path;
      if (p.is_relative()) p = options.shared_dir / p;
      std::error_code ec;
      if (!fs::is_regular_file(p, ec))
        return Status::not_found(where + ": " + *file.uri + " (" + p.string() +
                                 ") is not an existing file");
      fs::path abs = fs::canonical(p, ec);
      if (ec) return Status::io_error(where + ": cannot resolve " + p.string() + ": " + ec.message());
      file.uri = "file://" + abs.string();
      if (!options.verify) continue;
      const auto size = fs::file_size(abs, ec);
      if (ec) return Status::io_error(where + ": cannot stat " + abs.string() + ": " + ec.message());
      if (static_cast<int64_t>(size) != file.size_bytes)
        return Status::invalid_argument(where + ": the catalog says " +
                                        std::to_string(file.size_bytes) + " bytes but " +
                                        abs.string() + " has " + std::to_string(size));
      auto sha = sha256_file(abs.string());
      if (!sha.is_ok()) return sha.status().with_context(where);
      if (file.sha256 && *sha != *file.sha256)
        return Status::invalid_argument(where + ": sha256 of " + abs.string() + " is " + *sha +
                                        ", the catalog says " + *file.sha256);
    }
  }
  return Status::ok();
}

json::object card_to_json(const ModelCard& c) {
  json::object o;
  o["name"] = c.name;
  o["display_name"] = c.display_name;
  o["family"] = c.family;
  o["architecture"] = c.facts.architecture;
  o["parameters"] = c.facts.parameters;
  o["n_layers"] = c.facts.n_layers;
  o["hidden_size"] = c.facts.hidden_size;
  o["n_heads"] = c.facts.n_heads;
  o["n_kv_heads"] = c.facts.n_kv_heads;
  o["head_dim"] = c.facts.head_dim;
  o["context_length"] = c.facts.context_length;
  o["vocab_size"] = c.facts.vocab_size;
  o["licence"] = c.licence;
  o["description"] = c.description;
  o["source_url"] = opt_string(c.source_url);
  json::array files;
  for (const auto& f : c.files) files.push_back(file_to_json(f));
  o["files"] = std::move(files);
  return o;
}

json::object catalog_to_json(const Catalog& catalog) {
  json::object o;
  o["version"] = catalog.version;
  if (!catalog.description.empty()) o["description"] = catalog.description;
  json::array models;
  for (const auto& m : catalog.models) models.push_back(card_to_json(m));
  o["models"] = std::move(models);
  return o;
}

json::object card_view_json(const ModelCard& c, const RequirementOptions& options) {
  json::object o = card_to_json(c);
  o["id"] = c.id;
  json::array files;
  for (const auto& f : c.files) {
    json::object fo = file_to_json(f);
    fo["id"] = f.id;
    const Requirements r = requirements(c, f, options);
    json::object ro;
    ro["weight_bytes"] = r.weight_bytes;
    ro["kv_bytes_per_token"] = r.kv_bytes_per_token;
    ro["kv_element_bytes"] = options.kv_element_bytes;
    ro["runtime_overhead_bytes"] = r.runtime_overhead_bytes;
    ro["context_length"] = r.context_length;
    ro["bytes_at_max_context"] = r.bytes_for_context(r.context_length);
    fo["requirements"] = std::move(ro);
    files.push_back(std::move(fo));
  }
  o["files"] = std::move(files);
  return o;
}

}  // namespace scn::catalog
