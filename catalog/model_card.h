// Model cards: the facts about a model and its files that the platform needs
// to size, place and launch a replica, and the requirements computed from
// them.
//
// Contract:
//  - A ModelCard is one model (architecture facts, licence) with one
//    ModelFile per quantization. A file's weights are present (can be
//    fetched by an agent and launched) exactly when it has a URI; such a file
//    always has its sha256 and an exact size. A file without weights still
//    has a size (exact or estimated from parameters x bits per weight).
//  - Requirements of a replica of (card, file) on one device (a GPU's memory,
//    or RAM for a CPU replica):
//      weight_bytes        = the file's size
//      kv_bytes_per_token  = n_layers x n_kv_heads x head_dim x 2 (K and V)
//                            x kv_element_bytes (4: scn's engine keeps K/V in
//                            float32 today; 2 for an F16 cache)
//      runtime_overhead    = RequirementOptions::runtime_overhead_bytes
//                            (default 256 MiB: compute buffers, logits,
//                            thread stacks, a GPU runtime's context)
//      bytes_for_context(c)= weights + kv_bytes_per_token x c + overhead
//      fits(free, c)       = 0 < c <= context_length and
//                            bytes_for_context(c) <= free
//    All arithmetic is in int64 and saturates instead of overflowing.
//  - check_launchable(card, file) is OK for a file whose weights are present
//    and kConflict "weights not present in any center" otherwise: a launch
//    must never create a service that cannot run.
//  - Pure data and arithmetic: nothing here touches files or databases.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "catalog/quantization.h"
#include "common/status.h"

namespace scn::catalog {

inline constexpr int64_t kMiB = int64_t{1} << 20;
inline constexpr int64_t kGiB = int64_t{1} << 30;
// Bytes per K/V element in scn's engine today (float32 cache).
inline constexpr int kEngineKvElementBytes = 4;
inline constexpr int64_t kDefaultRuntimeOverheadBytes = 256 * kMiB;

// How a file's size_bytes was obtained.
enum class SizeSource {
  kExact,      // measured from the file (or published by its maker)
  kEstimated,  // parameters x bits_per_weight(quantization) / 8
};
std::string_view size_source_name(SizeSource s);  // "exact", "estimated"
std::optional<SizeSource> parse_size_source(std::string_view name);

// Architecture facts, as a model's config.json / GGUF metadata state them.
struct ModelFacts {
  std::string architecture;   // GGUF general.architecture: "llama", "qwen2", "gemma2"
  int64_t parameters = 0;     // total weights, embeddings included
  int64_t n_layers = 0;
  int64_t hidden_size = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;       // not always hidden_size / n_heads (Gemma 2)
  int64_t context_length = 0; // the longest context the model supports
  int64_t vocab_size = 0;

  friend bool operator==(const ModelFacts&, const ModelFacts&) = default;
};

struct ModelFile {
  std::string id;             // the database id; empty until stored
  Quant quantization = Quant::kF16;
  std::string file_name;      // no directory part
  int64_t size_bytes = 0;
  SizeSource size_source = SizeSource::kExact;
  std::optional<std::string> sha256;  // 64 lower-case hex digits
  std::optional<std::string> uri;     // http(s):// or file:///absolute/path

  bool weights_present() const { return uri.has_value(); }
  friend bool operator==(const ModelFile&, const ModelFile&) = default;
};

struct ModelCard {
  std::string id;             // the database id; empty until stored
  std::string name;           // unique key: [A-Za-z0-9][A-Za-z0-9._-]{0,127}
  std::string display_name;
  std::string family;         // "qwen2.5", "llama3", "gemma2", ...
  std::string licence;
  std::string description;
  std::optional<std::string> source_url;  // where the original model is published
  ModelFacts facts;
  std::vector<ModelFile> files;

  // The file of quantization q, or nullptr.
  const ModelFile* file(Quant q) const;
  friend bool operator==(const ModelCard&, const ModelCard&) = default;
};

struct RequirementOptions {
  int kv_element_bytes = kEngineKvElementBytes;
  int64_t runtime_overhead_bytes = kDefaultRuntimeOverheadBytes;
};

struct Requirements {
  int64_t weight_bytes = 0;
  int64_t kv_bytes_per_token = 0;
  int64_t runtime_overhead_bytes = 0;
  int64_t context_length = 0;  // the model's maximum

  // weights + KV for `context_tokens` + overhead (saturating; negative
  // context counts as 0).
  int64_t bytes_for_context(int64_t context_tokens) const;
  // 0 < context_tokens <= context_length and bytes_for_context fits in free_bytes.
  bool fits(int64_t free_bytes, int64_t context_tokens) const;
  // The longest context (<= context_length) that fits in free_bytes; 0 if none.
  int64_t max_context_for(int64_t free_bytes) const;
};

// layers x KV heads x head_dim x 2 x element_bytes (saturating).
int64_t kv_bytes_per_token(const ModelFacts& facts, int kv_element_bytes);

Requirements requirements(const ModelCard& card, const ModelFile& file,
                          const RequirementOptions& options = {});

// OK, or kConflict "model 'x' (Q4_K_M): weights not present in any center".
Status check_launchable(const ModelCard& card, const ModelFile& file);

}  // namespace scn::catalog
