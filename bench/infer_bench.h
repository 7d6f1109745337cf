// `scn bench infer`: the speed of the inference engine on one model, in the
// terms of llama-bench (pp512 / tg128) plus the memory bandwidth measured in
// the same run, so that decode speed can be read as a fraction of what the
// memory allows.
//
// Contract:
//  - run_infer_bench() loads the model on the CPU backend with `threads`
//    threads, warms up, then per repetition: evaluates a prompt of
//    prompt_tokens random ids in one eval() on an emptied context (prompt
//    processing); then, on an emptied context again, `depth` random ids
//    (not timed) and gen_tokens more tokens one eval() each (decode). As in
//    llama-bench, tg128 (depth 0) decodes from an empty context and
//    "tg128 @ d512" (depth 512) after 512 tokens of context, whose KV cache
//    each step also reads. Figures are means (and standard deviations) over
//    the repetitions.
//  - Weight bytes per token are the bytes of every matmul weight read by one
//    decode step (Model::weight_bytes(), which includes the output
//    projection, i.e. the whole embedding matrix when tied) plus one
//    embedding row. The read bandwidth is probed with the same thread count
//    right after each decode test (once after the prompts when there is no
//    decode test); membw_gbs is the mean of those probes, and
//    decode_bw_fraction the mean over the repetitions of weight bytes per
//    token × that repetition's decode tok/s ÷ its own probe.
//  - device other than "cpu" (make_backend: "cuda", "cuda:N", "auto"): the
//    model runs through the engine's batched forward pass (BatchContext over
//    a KvPool in device memory, one sequence): the prompt is evaluated in
//    chunks of `batch` tokens, then every decode step evaluates one token
//    and takes its greedy arg-max on the device (only the id comes back, as
//    in the engine). The bandwidth is then not probed but taken as the
//    device's peak: peak_gbs, else 4800 GB/s when the device is an H200,
//    else unknown (no fraction reported). "cpu" keeps the path above.
//  - Errors (model cannot be loaded, bad sizes, device unavailable) are a
//    Status; the benchmark itself never fails on figures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace scn::bench {

struct InferBenchOptions {
  std::string model_path;
  int threads = 0;           // 0: all cores
  int prompt_tokens = 512;   // >= 1
  int gen_tokens = 128;      // >= 0
  int depth = 0;             // >= 0: tokens of context before the decode test
  int reps = 3;              // >= 1
  size_t membw_bytes = size_t{512} << 20;  // buffer of the bandwidth probe; 0: skip it
  uint64_t seed = 1;         // of the random token ids
  std::string device = "cpu";  // see above
  int batch = 512;           // prompt tokens per forward pass on a device (>= 1)
  double peak_gbs = 0;       // device memory bandwidth for the fraction; 0: known devices only
};

// Tensors of one type in the file.
struct TypeMix {
  std::string type;   // "q8_0"
  int tensors = 0;
  int64_t elements = 0;
  uint64_t bytes = 0;
};

struct InferBenchReport {
  std::string model_path;
  std::string model_name;
  std::string arch;
  int64_t params = 0;          // elements of all tensors
  int64_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0;
  bool tied_embeddings = false;
  std::vector<TypeMix> types;  // largest first
  uint64_t file_bytes = 0;
  uint64_t weight_bytes_per_token = 0;
  int threads = 0;
  std::string isa;             // kernels in use: scalar / avx2 / avx512
  double load_seconds = 0;

  int prompt_tokens = 0, gen_tokens = 0, depth = 0, reps = 0;
  double pp_tok_s = 0, pp_tok_s_sd = 0;   // prompt processing
  double tg_tok_s = 0, tg_tok_s_sd = 0;   // decode
  double membw_gbs = 0;                   // 0 when not measured
  std::vector<double> membw_gbs_per_rep;  // each probe (CPU path)
  size_t membw_bytes = 0;
  double decode_bw_fraction = 0;          // 0 when membw_gbs is 0
  std::string device = "cpu";
  std::string device_description;         // Backend::describe()
  bool membw_is_peak = false;             // membw_gbs is the device's peak, not measured
  int batch = 0;                          // prompt chunk on a device
};

Result<InferBenchReport> run_infer_bench(const InferBenchOptions& options);

// A human-readable table.
std::string format_infer_report(const InferBenchReport& r);
// One JSON object (machine-readable).
std::string infer_report_json(const InferBenchReport& r);

}  // namespace scn::bench
