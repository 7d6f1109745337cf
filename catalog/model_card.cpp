#include "catalog/model_card.h"

#include <algorithm>
#include <limits>

namespace scn::catalog {

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? kMax : r;
}

int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? kMax : r;
}

}  // namespace

std::string_view size_source_name(SizeSource s) {
  return s == SizeSource::kExact ? "exact" : "estimated";
}

std::optional<SizeSource> parse_size_source(std::string_view name) {
  if (name == "exact") return SizeSource::kExact;
  if (name == "estimated") return SizeSource::kEstimated;
  return std::nullopt;
}

const ModelFile* ModelCard::file(Quant q) const {
  for (const auto& f : files)
    if (f.quantization == q) return &f;
  return nullptr;
}

int64_t kv_bytes_per_token(const ModelFacts& facts, int kv_element_bytes) {
  if (facts.n_layers <= 0 || facts.n_kv_heads <= 0 || facts.head_dim <= 0 || kv_element_bytes <= 0)
    return 0;
  int64_t v = sat_mul(facts.n_layers, facts.n_kv_heads);
  v = sat_mul(v, facts.head_dim);
  v = sat_mul(v, 2);
  return sat_mul(v, kv_element_bytes);
}

Requirements requirements(const ModelCard& card, const ModelFile& file,
                          const RequirementOptions& options) {
  Requirements r;
  r.weight_bytes = std::max<int64_t>(file.size_bytes, 0);
  r.kv_bytes_per_token = kv_bytes_per_token(card.facts, options.kv_element_bytes);
  r.runtime_overhead_bytes = std::max<int64_t>(options.runtime_overhead_bytes, 0);
  r.context_length = card.facts.context_length;
  return r;
}

int64_t Requirements::bytes_for_context(int64_t context_tokens) const {
  const int64_t kv = sat_mul(kv_bytes_per_token, std::max<int64_t>(context_tokens, 0));
  return sat_add(sat_add(weight_bytes, kv), runtime_overhead_bytes);
}

bool Requirements::fits(int64_t free_bytes, int64_t context_tokens) const {
  if (context_tokens <= 0 || context_tokens > context_length) return false;
  const int64_t need = bytes_for_context(context_tokens);
  return need < kMax && need <= free_bytes;
}

int64_t Requirements::max_context_for(int64_t free_bytes) const {
  const int64_t fixed = sat_add(weight_bytes, runtime_overhead_bytes);
  if (fixed >= kMax || free_bytes <= fixed || context_length <= 0) return 0;
  if (kv_bytes_per_token <= 0) return context_length;
  return std::min(context_length, (free_bytes - fixed) / kv_bytes_per_token);
}

Status check_launchable(const ModelCard& card, const ModelFile& file) {
  if (file.weights_present()) return Status::ok();
  return Status::conflict("model '" + card.name + "' (" + std::string(quant_name(file.quantization)) +
                          "): weights not present in any center");
}

}  // namespace scn::catalog
