// Synthetic GGUF models (see synth.h).
#include "inference/cli/synth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "inference/backend/cpu/quants.h"
#include "inference/cli/quantize_file.h"
#include "inference/gguf/gguf.h"
#include "inference/tokenizer/hf_import.h"

namespace scn::inference {
namespace {

constexpr float kStd = 0.02f;

// Figures from each model's Hugging Face config.json.
std::vector<ModelShape> make_shapes() {
  std::vector<ModelShape> v;
  auto qwen = [&](std::string name, int64_t embd, int64_t layers, int64_t heads, int64_t kv, int64_t ff,
                  int64_t vocab, int64_t ctx, double rope, bool tied) {
    ModelShape s;
    s.name = std::move(name);
    s.arch = "qwen2";
    s.n_embd = embd, s.n_layer = layers, s.n_head = heads, s.n_head_kv = kv, s.n_ff = ff;
    s.n_vocab = vocab, s.n_ctx = ctx, s.rope_base = rope, s.rms_eps = 1e-6, s.tied = tied;
    s.qkv_bias = true;
    s.tokenizer_pre = "qwen2";
    v.push_back(s);
  };
  auto llama = [&](std::string name, int64_t embd, int64_t layers, int64_t heads, int64_t kv, int64_t ff,
                   int64_t vocab, int64_t ctx, double rope, double eps, bool tied, double l3_factor,
                   std::string pre) {
    ModelShape s;
    s.name = std::move(name);
    s.arch = "llama";
    s.n_embd = embd, s.n_layer = layers, s.n_head = heads, s.n_head_kv = kv, s.n_ff = ff;
    s.n_vocab = vocab, s.n_ctx = ctx, s.rope_base = rope, s.rms_eps = eps, s.tied = tied;
    s.rope_llama3_factor = l3_factor;
    s.tokenizer_pre = std::move(pre);
    v.push_back(s);
  };
  qwen("qwen2.5-0.5b", 896, 24, 14, 2, 4864, 151936, 32768, 1e6, true);
  qwen("qwen2.5-1.5b", 1536, 28, 12, 2, 8960, 151936, 32768, 1e6, true);
  qwen("qwen2.5-3b", 2048, 36, 16, 2, 11008, 151936, 32768, 1e6, true);
  qwen("qwen2.5-7b", 3584, 28, 28, 4, 18944, 152064, 32768, 1e6, false);
  qwen("deepseek-r1-distill-qwen-1.5b", 1536, 28, 12, 2, 8960, 151936, 131072, 1e4, false);
  llama("llama-3.2-1b", 2048, 16, 32, 8, 8192, 128256, 131072, 5e5, 1e-5, true, 32, "llama-bpe");
  llama("llama-3.2-3b", 3072, 28, 24, 8, 8192, 128256, 131072, 5e5, 1e-5, true, 32, "llama-bpe");
  llama("llama-3.1-8b", 4096, 32, 32, 8, 14336, 128256, 131072, 5e5, 1e-5, false, 8, "llama-bpe");
  llama("tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048, 1e4, 1e-5, false, 0, "default");
  // Tiny shapes for tests (not real models): rows of 96 exercise the
  // fallbacks of the K-quants, rows of 256 the K-quants themselves.
  llama("test-tiny-llama", 256, 2, 4, 2, 96, 320, 256, 1e4, 1e-5, false, 0, "default");
  v.back().test_only = true;
  qwen("test-tiny-qwen2", 96, 2, 4, 2, 256, 300, 256, 1e6, true);
  v.back().test_only = true;
  return v;
}

// xoshiro256** (fast, good enough for weights).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& x : s_) {  // splitmix64
      seed += 0x9E3779B97F4A7C15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      x = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0], s_[3] ^= s_[1], s_[1] ^= s_[2], s_[0] ^= s_[3], s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  // Approximately N(0, 1): the sum of four uniform 16-bit values, centred
  // and scaled (Irwin-Hall).
  float normal() {
    const uint64_t r = next();
    const float sum = static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
    return (sum - 2.0f * 65535.0f) * (1.0f / (65535.0f * 0.57735027f));  // var of U(0,1) sum of 4 = 1/3
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  return z ^ (z >> 31);
}

// Pools of quantized blocks, one per type, built on first use.
class BlockPools {
 public:
  static constexpr int64_t kBlocks = 1024;
  explicit BlockPools(uint64_t seed) : seed_(seed) {}
  Result<const std::vector<uint8_t>*> get(GgmlType t) {
    auto it = pools_.find(t);
    if (it != pools_.end()) return &it->second;
    const int64_t n = kBlocks * block_size(t);
    std::vector<float> x(static_cast<size_t>(n));
    Rng rng(mix(seed_, static_cast<uint64_t>(t)));
    for (auto& v : x) v = kStd * rng.normal();
    std::vector<uint8_t> q(row_size(t, n));
    SCN_RETURN_IF_ERROR(quantize_row(t, x.data(), q.data(), n));
    return &(pools_[t] = std::move(q));
  }

 private:
  uint64_t seed_;
  std::map<GgmlType, std::vector<uint8_t>> pools_;
};

enum class Init { kWeight, kNorm, kBias, kRopeFreqs };

struct Plan {
  std::string name;
  std::vector<int64_t> dims;
  Init init;
};

std::vector<Plan> tensor_plans(const ModelShape& s) {
  const int64_t head_dim = s.n_embd / s.n_head, kv_dim = head_dim * s.n_head_kv;
  std::vector<Plan> p;
  p.push_back({"token_embd.weight", {s.n_embd, s.n_vocab}, Init::kWeight});
  if (s.rope_llama3_factor > 0) p.push_back({"rope_freqs.weight", {head_dim / 2}, Init::kRopeFreqs});
  for (int64_t i = 0; i < s.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    p.push_back({b + "attn_norm.weight", {s.n_embd}, Init::kNorm});
    p.push_back({b + "attn_q.weight", {s.n_embd, s.n_embd}, Init::kWeight});
    if (s.qkv_bias) p.push_back({b + "attn_q.bias", {s.n_embd}, Init::kBias});
    p.push_back({b + "attn_k.weight", {s.n_embd, kv_dim}, Init::kWeight});
    if (s.qkv_bias) p.push_back({b + "attn_k.bias", {kv_dim}, Init::kBias});
    p.push_back({b + "attn_v.weight", {s.n_embd, kv_dim}, Init::kWeight});
    if (s.qkv_bias) p.push_back({b + "attn_v.bias", {kv_dim}, Init::kBias});
    p.push_back({b + "attn_output.weight", {s.n_embd, s.n_embd}, Init::kWeight});
    p.push_back({b + "ffn_norm.weight", {s.n_embd}, Init::kNorm});
    p.push_back({b + "ffn_gate.weight", {s.n_embd, s.n_ff}, Init::kWeight});
    p.push_back({b + "ffn_up.weight", {s.n_embd, s.n_ff}, Init::kWeight});
    p.push_back({b + "ffn_down.weight", {s.n_ff, s.n_embd}, Init::kWeight});
  }
  p.push_back({"output_norm.weight", {s.n_embd}, Init::kNorm});
  if (!s.tied) p.push_back({"output.weight", {s.n_embd, s.n_vocab}, Init::kWeight});
  return p;
}

// llama.cpp's convert_hf_to_gguf rope factors for Llama 3.1+ (low_freq_factor 1,
// high_freq_factor 4, original context 8192).
std::vector<float> llama3_rope_factors(const ModelShape& s) {
  const int64_t dim = s.n_embd / s.n_head;
  const double low = 1.0, high = 4.0, old_ctx = 8192.0, factor = s.rope_llama3_factor;
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (int64_t i = 0; i < dim; i += 2) {
    const double freq = 1.0 / std::pow(s.rope_base, static_cast<double>(i) / dim);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(static_cast<float>(factor));
    } else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      out.push_back(static_cast<float>(1.0 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

// GPT-2's byte-to-unicode table: the text of the token for byte b.
std::string byte_token(int b) {
  auto printable = [](int c) { return (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF); };
  int cp = b;
  if (!printable(b)) {
    int n = 0;
    for (int c = 0; c < b; ++c)
      if (!printable(c)) ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

void synthetic_vocab(const ModelShape& s, GgufWriter& w) {
  std::vector<std::string> tokens;
  std::vector<int64_t> types;
  tokens.reserve(static_cast<size_t>(s.n_vocab));
  for (int b = 0; b < 256 && static_cast<int64_t>(tokens.size()) < s.n_vocab - 1; ++b) {
    tokens.push_back(byte_token(b));
    types.push_back(1);  // normal
  }
  while (static_cast<int64_t>(tokens.size()) < s.n_vocab - 1) {
    tokens.push_back("<synth_" + std::to_string(tokens.size()) + ">");
    types.push_back(1);
  }
  tokens.push_back("<|endoftext|>");
  types.push_back(3);  // control
  const auto eos = static_cast<uint32_t>(s.n_vocab - 1);
  w.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::str(s.tokenizer_pre));
  w.set("tokenizer.ggml.tokens", GgufValue::array(GgufArray::of_strings(std::move(tokens))));
  w.set("tokenizer.ggml.token_type", GgufValue::array(GgufArray::of_ints(GgufValueType::INT32, std::move(types))));
  w.set("tokenizer.ggml.merges", GgufValue::array(GgufArray::of_strings({})));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(eos));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(eos));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(s.arch == "llama"));
}

// Pads an imported vocabulary to the model's size, as llama.cpp's converter does.
Status pad_vocab(const ModelShape& s, GgufWriter& w) {
  const GgufValue* tv = w.find("tokenizer.ggml.tokens");
  if (!tv || !tv->as_array()) return Status::corrupt("the imported tokenizer has no tokenizer.ggml.tokens");
  GgufArray tokens = *tv->as_array();
  const auto n = static_cast<int64_t>(tokens.size());
  if (n > s.n_vocab)
    return Status::invalid_argument("the tokenizer has " + std::to_string(n) + " tokens, more than " + s.name +
                                    "'s vocabulary of " + std::to_string(s.n_vocab));
  if (n == s.n_vocab) return Status::ok();
  const GgufValue* yv = w.find("tokenizer.ggml.token_type");
  GgufArray types = yv && yv->as_array() ? *yv->as_array() : GgufArray::of_ints(GgufValueType::INT32, {});
  types.ints.resize(static_cast<size_t>(n), 1);
  for (int64_t i = n; i < s.n_vocab; ++i) {
    tokens.strings.push_back("[PAD" + std::to_string(i) + "]");
    types.ints.push_back(5);  // unused
  }
  w.set("tokenizer.ggml.tokens", GgufValue::array(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", GgufValue::array(std::move(types)));
  return Status::ok();
}

void set_metadata(const ModelShape& s, const QuantTarget& target, GgufWriter& w) {
  const std::string& a = s.arch;
  w.set("general.architecture", GgufValue::str(a));
  w.set("general.name", GgufValue::str("synthetic " + s.name + " (random weights)"));
  w.set("general.file_type", GgufValue::u32(target.file_type));
  w.set("general.quantization_version", GgufValue::u32(2));
  w.set(a + ".context_length", GgufValue::u32(static_cast<uint32_t>(s.n_ctx)));
  w.set(a + ".embedding_length", GgufValue::u32(static_cast<uint32_t>(s.n_embd)));
  w.set(a + ".block_count", GgufValue::u32(static_cast<uint32_t>(s.n_layer)));
  w.set(a + ".feed_forward_length", GgufValue::u32(static_cast<uint32_t>(s.n_ff)));
  w.set(a + ".attention.head_count", GgufValue::u32(static_cast<uint32_t>(s.n_head)));
  w.set(a + ".attention.head_count_kv", GgufValue::u32(static_cast<uint32_t>(s.n_head_kv)));
  w.set(a + ".rope.freq_base", GgufValue::f32(static_cast<float>(s.rope_base)));
  w.set(a + ".rope.dimension_count", GgufValue::u32(static_cast<uint32_t>(s.n_embd / s.n_head)));
  w.set(a + ".attention.layer_norm_rms_epsilon", GgufValue::f32(static_cast<float>(s.rms_eps)));
  if (a == "llama") w.set(a + ".vocab_size", GgufValue::u32(static_cast<uint32_t>(s.n_vocab)));
}

// Fills one tensor of `type` (a float type, or blocks from the pools).
Status fill_tensor(const Plan& p, GgmlType type, uint64_t seed, int threads, BlockPools& pools,
                   const ModelShape& shape, std::span<uint8_t> dst) {
  const int64_t n = p.dims[0];
  int64_t nrows = 1;
  for (size_t i = 1; i < p.dims.size(); ++i) nrows *= p.dims[i];
  if (p.init == Init::kRopeFreqs) {
    std::vector<float> f = llama3_rope_factors(shape);
    return quantize_row(type, f.data(), dst.data(), n);
  }
  const bool is_float = type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16;
  if (is_float || p.init != Init::kWeight) {
    const size_t rs = row_size(type, n);
    // One random stream per row / per chunk of blocks: the file does not
    // depend on the number of threads.
    return parallel_for(nrows, threads, [&](int64_t b, int64_t e) -> Status {
      std::vector<float> row(static_cast<size_t>(n));
      for (int64_t r = b; r < e; ++r) {
        Rng rng(mix(seed, static_cast<uint64_t>(r)));
        for (auto& v : row)
          v = p.init == Init::kNorm ? 1.0f + 0.1f * rng.normal() : kStd * rng.normal();
        SCN_RETURN_IF_ERROR(quantize_row(type, row.data(), dst.data() + rs * static_cast<size_t>(r), n));
      }
      return Status::ok();
    });
  }
  SCN_ASSIGN_OR_RETURN(const std::vector<uint8_t>* pool, pools.get(type));
  const size_t bytes = type_size(type);
  const int64_t n_blocks = static_cast<int64_t>(dst.size() / bytes);
  constexpr int64_t kChunk = 4096;
  return parallel_for((n_blocks + kChunk - 1) / kChunk, threads, [&](int64_t b, int64_t e) -> Status {
    for (int64_t c = b; c < e; ++c) {
      Rng rng(mix(seed, static_cast<uint64_t>(c)));
      for (int64_t i = c * kChunk; i < std::min(n_blocks, (c + 1) * kChunk); ++i) {
        const uint64_t k = rng.next() % BlockPools::kBlocks;
        std::memcpy(dst.data() + static_cast<size_t>(i) * bytes, pool->data() + k * bytes, bytes);
      }
    }
    return Status::ok();
  });
}

}  // namespace

const std::vector<ModelShape>& known_shapes() {
  static const std::vector<ModelShape> shapes = make_shapes();
  return shapes;
}

const ModelShape* find_shape(std::string_view name) {
  for (const auto& s : known_shapes())
    if (s.name == name) return &s;
  return nullptr;
}

Status synth_model(const ModelShape& shape, const SynthOptions& options, const std::string& out,
                   std::string* report) {
  const auto start = std::chrono::steady_clock::now();
  SCN_ASSIGN_OR_RETURN(QuantTarget target, parse_quant_target(options.type));
  if (shape.n_head <= 0 || shape.n_embd % shape.n_head != 0 || shape.n_head_kv <= 0 ||
      shape.n_head % shape.n_head_kv != 0 || shape.n_layer <= 0 || shape.n_vocab <= 0)
    return Status::invalid_argument("inconsistent model shape '" + shape.name + "'");

  GgufWriter w;
  set_metadata(shape, target, w);
  if (!options.tokenizer_json.empty()) {
    SCN_RETURN_IF_ERROR(import_hf_tokenizer(options.tokenizer_json, w));
    SCN_RETURN_IF_ERROR(pad_vocab(shape, w));
  } else {
    synthetic_vocab(shape, w);
  }

  const std::vector<Plan> plans = tensor_plans(shape);
  std::vector<std::string> names;
  for (const auto& p : plans) names.push_back(p.name);
  TypePlanner planner(target, names);
  auto pools = std::make_shared<BlockPools>(options.seed);
  std::map<std::string, int> type_counts;
  uint64_t params = 0, bytes = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const Plan& p = plans[i];
    GgmlType type = planner.plan(p.name, p.dims, GgmlType::F32, nullptr);
    const uint64_t seed = mix(options.seed, i + 1);
    const int threads = options.threads;
    SCN_RETURN_IF_ERROR(w.add_tensor_lazy(p.name, type, p.dims, [=, &shape](std::span<uint8_t> dst) {
      return fill_tensor(p, type, seed, threads, *pools, shape, dst);
    }));
    int64_t n = 1;
    for (int64_t d : p.dims) n *= d;
    params += static_cast<uint64_t>(n);
    bytes += *tensor_nbytes(type, p.dims);
    ++type_counts[std::string(type_name(type))];
  }
  SCN_RETURN_IF_ERROR(w.write(out));
  if (report) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string types;
    for (const auto& [name, count] : type_counts) types += " " + name + "=" + std::to_string(count);
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s: %zu tensors, %llu parameters, %.1f MiB of weights (%s:%s) in %.1f s\n",
                  out.c_str(), plans.size(), static_cast<unsigned long long>(params),
                  static_cast<double>(bytes) / (1024.0 * 1024.0), target.name.c_str(), types.c_str(), secs);
    *report = buf;
  }
  return Status::ok();
}

}  // namespace scn::inference
