// Catalog files: the JSON document `scn catalog import FILE` reads (see
// catalog/demo_catalog.json), its validation, and the JSON views of cards.
//
// Document:
//   {"version": 1, "description": "...optional...",
//    "models": [{
//      "name": "qwen2.5-7b-instruct", "display_name": "...", "family": "qwen2.5",
//      "architecture": "qwen2", "parameters": 7615616512, "n_layers": 28,
//      "hidden_size": 3584, "n_heads": 28, "n_kv_heads": 4, "head_dim": 128,
//      "context_length": 32768, "vocab_size": 152064, "licence": "Apache-2.0",
//      "description": "...optional...", "source_url": "https://...|null",
//      "files": [{"quantization": "Q4_K_M", "file_name": "x.gguf",
//                 "size_bytes": 4617003424, "size_source": "exact|estimated",
//                 "weights_present": false, "sha256": null, "uri": null}]}]}
//
// Contract of parse_catalog:
//  - Every field is checked; the first problem is returned as
//    kInvalidArgument whose message names the entry and the field, e.g.
//    "models[3] (qwen2.5-7b-instruct): files[1] (Q8_0): field 'sha256' must be
//    64 lower-case hex digits". Unknown fields are errors (they are typos).
//  - Rules: names match [A-Za-z0-9][A-Za-z0-9._-]{0,127} and are unique;
//    text fields are non-empty and bounded (display_name, licence <= 200,
//    family, architecture <= 100); facts are positive integers, layers, heads,
//    dims and lengths fit a PostgreSQL integer; n_kv_heads divides n_heads;
//    every model has at least one file; a quantization is one of
//    known_quant_names() and appears once per model; file_name has no '/' or
//    '\'; size_source is "exact" (default) or "estimated"; size_bytes > 0,
//    and may be omitted only when estimated (then it is computed with
//    estimate_file_bytes); weights_present is required and true exactly when
//    both sha256 (64 lower-case hex) and uri (http://, https:// or file://)
//    are given, which also needs an exact size.
//  - A file:// URI whose path does not start with '/' ("file://models/x.gguf")
//    is relative to the shared data folder; resolve_local_files makes it
//    absolute. parse_catalog keeps it as written.
//
// Contract of resolve_local_files:
//  - Rewrites relative file:// URIs to "file://" + the canonical absolute path
//    below `shared_dir`, and (when `verify`) checks that every file:// file
//    exists and has the catalog's size and sha256. Errors name the model and
//    file: kNotFound (missing file), kInvalidArgument (size or sha256 differs).
//    On error the catalog may be partly rewritten; callers drop it.
#pragma once

#include <boost/json/object.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/model_card.h"
#include "common/status.h"

namespace scn::catalog {

struct Catalog {
  int version = 1;
  std::string description;
  std::vector<ModelCard> models;

  const ModelCard* find(std::string_view name) const;
  friend bool operator==(const Catalog&, const Catalog&) = default;
};

Result<Catalog> parse_catalog(std::string_view json_text);
// Reads and parses `path` (kIoError naming it when unreadable).
Result<Catalog> load_catalog_file(const std::string& path);

struct ResolveOptions {
  std::filesystem::path shared_dir;  // base of relative file:// URIs
  bool verify = true;                // check size and sha256 of file:// files
};
Status resolve_local_files(Catalog& catalog, const ResolveOptions& options);

// The document form (what parse_catalog reads back into an equal Catalog;
// ids are not part of it).
boost::json::object catalog_to_json(const Catalog& catalog);
boost::json::object card_to_json(const ModelCard& card);

// The API view of a card: the document form plus "id", and per file "id"
// and "requirements": {"weight_bytes", "kv_bytes_per_token",
// "kv_element_bytes", "runtime_overhead_bytes", "context_length",
// "bytes_at_max_context"}.
boost::json::object card_view_json(const ModelCard& card, const RequirementOptions& options = {});

}  // namespace scn::catalog
