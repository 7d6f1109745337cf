// `scn gguf synth`: GGUF files with random weights in the exact tensor
// names, shapes and metadata of real models (llama.cpp naming), for
// benchmarks and tests. Speed does not depend on the weights' values.
//
// Contract:
//  - Weights are drawn from a normal distribution (std 0.02; norms around 1);
//    quantized weights are blocks sampled from a pool of blocks quantized
//    with the reference quantizers (so any file is generated at memory speed).
//    The same seed gives the same file.
//  - The type is any quantize target (quantize_file.h), applied with the same
//    per-tensor rules as `scn gguf quantize` (q4_K_M mix included).
//  - Tokenizer metadata: imported from a Hugging Face tokenizer.json when
//    given (padded with [PAD<id>] tokens up to the model's vocabulary), else
//    a synthetic byte-level BPE vocabulary of exactly n_vocab tokens: the 256
//    byte tokens in GPT-2 byte-to-unicode form, "<synth_N>" fillers, and
//    "<|endoftext|>" (control; bos and eos) as the last token; no merges.
//  - general.name is "synthetic <like> (random weights)".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace scn::inference {

struct ModelShape {
  std::string name;  // "qwen2.5-0.5b"
  std::string arch;  // "llama" or "qwen2"
  int64_t n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_vocab = 0;
  int64_t n_ctx = 0;
  double rope_base = 10000.0;
  double rms_eps = 1e-5;
  bool tied = false;      // no output.weight: the output projection reuses token_embd
  bool qkv_bias = false;  // qwen2
  double rope_llama3_factor = 0;  // > 0: Llama 3.1+ rope scaling (rope_freqs.weight)
  std::string tokenizer_pre;      // tokenizer.ggml.pre of the real model
  bool test_only = false;         // a tiny shape for tests, not a real model
};

// The shapes `--like` accepts (real models, then the tiny test shapes).
const std::vector<ModelShape>& known_shapes();
const ModelShape* find_shape(std::string_view name);

struct SynthOptions {
  std::string type = "q8_0";   // a quantize target, e.g. "q4_K_M"
  uint64_t seed = 1;
  std::string tokenizer_json;  // optional Hugging Face tokenizer.json
  int threads = 0;             // 0: all cores
};

// Writes the model to `out` atomically; `report` (optional) gets a summary.
Status synth_model(const ModelShape& shape, const SynthOptions& options, const std::string& out,
                   std::string* report);

}  // namespace scn::inference
