#include "bench/infer_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <new>
#include <random>
#include <span>

#include <boost/json.hpp>

#include "bench/membw_bench.h"
#include "inference/backend/backend.h"
#include "inference/backend/cpu/cpu_features.h"
#include "inference/gguf/gguf.h"
#include "inference/model/batch_context.h"
#include "inference/model/context.h"
#include "inference/model/kv_pool.h"
#include "inference/model/model.h"

namespace scn::bench {

namespace inf = scn::inference;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void mean_sd(const std::vector<double>& v, double* mean, double* sd) {
  *mean = 0;
  *sd = 0;
  if (v.empty()) return;
  for (double x : v) *mean += x;
  *mean /= static_cast<double>(v.size());
  if (v.size() < 2) return;
  double ss = 0;
  for (double x : v) ss += (x - *mean) * (x - *mean);
  *sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
}

std::vector<TypeMix> type_mix(const inf::GgufFile& file, int64_t* params) {
  std::map<std::string, TypeMix> by_type;
  *params = 0;
  for (const auto& t : file.tensors()) {
    TypeMix& m = by_type[std::string(inf::type_name(t.type))];
    m.type = std::string(inf::type_name(t.type));
    ++m.tensors;
    m.elements += t.n_elements();
    m.bytes += t.nbytes;
    *params += t.n_elements();
  }
  std::vector<TypeMix> out;
  for (auto& [_, m] : by_type) out.push_back(m);
  std::sort(out.begin(), out.end(), [](const TypeMix& a, const TypeMix& b) {
    return a.bytes > b.bytes || (a.bytes == b.bytes && a.type < b.type);
  });
  return out;
}

std::string human_count(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1e3) std::snprintf(buf, sizeof buf, "%.2fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

std::string mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / (1024.0 * 1024.0));
  return buf;
}

// The device path: prompt in chunks of o.batch tokens through a
// BatchContext, then greedy decode with the arg-max on the device.
Status run_device_passes(const InferBenchOptions& o, inf::Model& model,
                         const std::vector<int32_t>& prompt, const std::vector<int32_t>& context,
                         const std::vector<int32_t>& gen, InferBenchReport* r) {
  const inf::ModelHparams& hp = model.hparams();
  const int bt = 16;
  const int32_t n_ctx = std::max(o.prompt_tokens, o.depth + o.gen_tokens) + 1;
  const int n_blocks = (n_ctx + bt - 1) / bt;
  std::unique_ptr<inf::KvPool> pool;
  try {
    pool = std::make_unique<inf::KvPool>(model.backend(), hp.n_layer, hp.kv_dim(), bt, n_blocks);
  } catch (const std::bad_alloc&) {
    return Status::exhausted("cannot allocate the KV cache on " + model.backend().describe());
  }
  std::vector<int> blocks;
  for (int i = 0; i < n_blocks; ++i) blocks.push_back(pool->allocate());
  const int32_t chunk = std::min(o.batch, o.prompt_tokens);
  SCN_ASSIGN_OR_RETURN(std::unique_ptr<inf::BatchContext> batch,
                       inf::BatchContext::create(model, *pool, chunk, n_ctx, 1));
  int32_t id = 0;
  // Evaluates tokens[0..n) at pos0 (in chunks); the last chunk asks for the arg-max.
  auto eval = [&](const int32_t* tokens, int32_t n, int32_t pos0) -> Status {
    for (int32_t done = 0; done < n;) {
      const int32_t m = std::min(chunk, n - done);
      inf::SeqChunk c;
      c.tokens = std::span<const int32_t>(tokens + done, static_cast<size_t>(m));
      c.pos0 = pos0 + done;
      c.blocks = blocks;
      if (done + m == n) c.argmax_out = &id;
      SCN_RETURN_IF_ERROR(batch->eval({&c, 1}));
      done += m;
    }
    return Status::ok();
  };
  // Warm-up: the prompt path and the decode path (its graph) once.
  SCN_RETURN_IF_ERROR(eval(prompt.data(), std::min<int32_t>(o.prompt_tokens, 16), 0));
  SCN_RETURN_IF_ERROR(eval(prompt.data(), 1, 16 < o.prompt_tokens ? 16 : o.prompt_tokens));
  std::vector<double> pp, tg;
  for (int rep = 0; rep < o.reps; ++rep) {
    auto t0 = Clock::now();
    SCN_RETURN_IF_ERROR(eval(prompt.data(), o.prompt_tokens, 0));
    model.backend().synchronize();
    pp.push_back(static_cast<double>(prompt.size()) / seconds_since(t0));
    if (gen.empty()) continue;
    if (!context.empty()) SCN_RETURN_IF_ERROR(eval(context.data(), o.depth, 0));
    model.backend().synchronize();
    t0 = Clock::now();
    for (size_t i = 0; i < gen.size(); ++i)
      SCN_RETURN_IF_ERROR(eval(&gen[i], 1, o.depth + static_cast<int32_t>(i)));
    tg.push_back(static_cast<double>(gen.size()) / seconds_since(t0));
  }
  mean_sd(pp, &r->pp_tok_s, &r->pp_tok_s_sd);
  mean_sd(tg, &r->tg_tok_s, &r->tg_tok_s_sd);
  return Status::ok();
}

}  // namespace

Result<InferBenchReport> run_infer_bench(const InferBenchOptions& o) {
  if (o.prompt_tokens < 1) return Status::invalid_argument("--prompt-tokens must be >= 1");
  if (o.gen_tokens < 0) return Status::invalid_argument("--gen-tokens must be >= 0");
  if (o.depth < 0) return Status::invalid_argument("--depth must be >= 0");
  if (o.reps < 1) return Status::invalid_argument("--reps must be >= 1");
  if (o.threads < 0) return Status::invalid_argument("--threads must be >= 0");
  if (o.batch < 1) return Status::invalid_argument("--batch must be >= 1");
  if (!(o.peak_gbs >= 0)) return Status::invalid_argument("--peak-gbs must be >= 0");
  const bool on_cpu = o.device.empty() || o.device == "cpu";

  InferBenchReport r;
  r.model_path = o.model_path;
  r.prompt_tokens = o.prompt_tokens;
  r.gen_tokens = o.gen_tokens;
  r.depth = o.depth;
  r.reps = o.reps;

  const auto t_load = Clock::now();
  SCN_ASSIGN_OR_RETURN(std::unique_ptr<inf::GgufFile> opened, inf::GgufFile::open(o.model_path));
  std::shared_ptr<const inf::GgufFile> file = std::move(opened);
  std::shared_ptr<inf::Backend> backend;
  if (on_cpu) {
    backend = inf::make_cpu_backend(o.threads);
  } else {
    SCN_ASSIGN_OR_RETURN(std::unique_ptr<inf::Backend> be, inf::make_backend(o.device, o.threads));
    backend = std::move(be);
  }
  if (!backend) return Status::internal("cannot create the " + o.device + " backend");
  r.device = on_cpu ? "cpu" : o.device;
  r.device_description = backend->describe();
  SCN_ASSIGN_OR_RETURN(std::unique_ptr<inf::Model> model, inf::Model::load(file, backend));
  const int32_t n_ctx = std::max(o.prompt_tokens, o.depth + o.gen_tokens) + 1;
  std::unique_ptr<inf::Context> ctx;
  if (on_cpu) {
    SCN_ASSIGN_OR_RETURN(ctx, inf::Context::create(*model, n_ctx));
  }
  r.load_seconds = seconds_since(t_load);

  const inf::ModelHparams& hp = model->hparams();
  r.model_name = model->name();
  r.arch = hp.arch_name;
  r.n_vocab = hp.n_vocab;
  r.n_embd = hp.n_embd;
  r.n_layer = hp.n_layer;
  r.n_head = hp.n_head;
  r.n_head_kv = hp.n_head_kv;
  r.n_ff = hp.n_ff;
  r.tied_embeddings = hp.tied_embeddings;
  r.types = type_mix(*file, &r.params);
  r.file_bytes = file->file_size();
  r.weight_bytes_per_token =
      model->weight_bytes() + model->token_embd().bytes() / static_cast<size_t>(hp.n_vocab);
  r.threads = backend->n_threads();
  r.isa = std::string(inf::cpu::isa_name(inf::cpu::active_isa()));

  // Random token ids: the speed does not depend on them.
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(hp.n_vocab - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt_tokens));
  for (auto& t : prompt) t = pick(rng);
  std::vector<int32_t> gen(static_cast<size_t>(o.gen_tokens));
  for (auto& t : gen) t = pick(rng);
  std::vector<int32_t> context(static_cast<size_t>(o.depth));  // before the decode test
  for (auto& t : context) t = pick(rng);
  std::vector<float> logits(static_cast<size_t>(hp.n_vocab));

  if (!on_cpu) {
    r.batch = std::min(o.batch, o.prompt_tokens);
    SCN_RETURN_IF_ERROR(run_device_passes(o, *model, prompt, context, gen, &r));
    r.membw_gbs = o.peak_gbs;
    if (r.membw_gbs == 0 && r.device_description.find("H200") != std::string::npos)
      r.membw_gbs = 4800;
    r.membw_is_peak = r.membw_gbs > 0;
    if (r.membw_gbs > 0)
      r.decode_bw_fraction =
          static_cast<double>(r.weight_bytes_per_token) * r.tg_tok_s / (r.membw_gbs * 1e9);
    return r;
  }

  // Warm-up: touch the weights and the kernels' paths once.
  {
    const size_t n = std::min<size_t>(prompt.size(), 16);
    SCN_RETURN_IF_ERROR(ctx->eval(std::span(prompt.data(), n), 0, logits.data(), false));
    SCN_RETURN_IF_ERROR(ctx->eval(std::span(prompt.data(), 1), ctx->n_past(), logits.data(), false));
  }

  std::vector<double> pp, tg;
  for (int rep = 0; rep < o.reps; ++rep) {
    ctx->truncate(0);
    auto t0 = Clock::now();
    SCN_RETURN_IF_ERROR(ctx->eval(prompt, 0, logits.data(), false));
    pp.push_back(static_cast<double>(prompt.size()) / seconds_since(t0));
    if (gen.empty()) continue;
    ctx->truncate(0);
    if (!context.empty()) SCN_RETURN_IF_ERROR(ctx->eval(context, 0, logits.data(), false));
    t0 = Clock::now();
    for (const int32_t& t : gen)
      SCN_RETURN_IF_ERROR(ctx->eval(std::span(&t, 1), ctx->n_past(), logits.data(), false));
    tg.push_back(static_cast<double>(gen.size()) / seconds_since(t0));
    // The bandwidth probe right after each decode test, with the same
    // thread count: this machine's bandwidth moves from minute to minute,
    // so each decode test is compared with the probe of its own moment.
    if (o.membw_bytes > 0) r.membw_gbs_per_rep.push_back(measure_membw_gbs(r.threads, o.membw_bytes));
  }
  mean_sd(pp, &r.pp_tok_s, &r.pp_tok_s_sd);
  mean_sd(tg, &r.tg_tok_s, &r.tg_tok_s_sd);

  ctx.reset();
  if (o.membw_bytes > 0) {
    r.membw_bytes = o.membw_bytes;
    if (r.membw_gbs_per_rep.empty())  // no decode test: one probe after the prompts
      r.membw_gbs_per_rep.push_back(measure_membw_gbs(r.threads, o.membw_bytes));
    double sum = 0, frac = 0;
    int fracs = 0;
    for (size_t i = 0; i < r.membw_gbs_per_rep.size(); ++i) {
      const double gbs = r.membw_gbs_per_rep[i];
      sum += gbs;
      if (i < tg.size() && gbs > 0) {
        frac += static_cast<double>(r.weight_bytes_per_token) * tg[i] / (gbs * 1e9);
        ++fracs;
      }
    }
    r.membw_gbs = sum / static_cast<double>(r.membw_gbs_per_rep.size());
    if (fracs > 0) r.decode_bw_fraction = frac / fracs;
  }
  return r;
}

std::string format_infer_report(const InferBenchReport& r) {
  std::string out;
  char line[512];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  add("model        %s%s%s%s\n", r.model_path.c_str(), r.model_name.empty() ? "" : " (",
      r.model_name.c_str(), r.model_name.empty() ? "" : ")");
  add("arch         %s, %s params, %lld layers, n_embd %lld, n_ff %lld, heads %lld/%lld kv, "
      "vocab %lld%s\n",
      r.arch.c_str(), human_count(static_cast<double>(r.params)).c_str(),
      static_cast<long long>(r.n_layer), static_cast<long long>(r.n_embd),
      static_cast<long long>(r.n_ff), static_cast<long long>(r.n_head),
      static_cast<long long>(r.n_head_kv), static_cast<long long>(r.n_vocab),
      r.tied_embeddings ? ", tied embeddings" : "");
  out += "weights     ";
  for (size_t i = 0; i < r.types.size(); ++i) {
    const TypeMix& m = r.types[i];
    add("%s %s: %d tensors, %s", i ? ";" : "", m.type.c_str(), m.tensors,
        mib(static_cast<double>(m.bytes)).c_str());
  }
  add("\nfile         %s, loaded in %.2f s\n", mib(static_cast<double>(r.file_bytes)).c_str(),
      r.load_seconds);
  add("bytes/token  %.2f MB read per decoded token (matmul weights + one embedding row)\n",
      static_cast<double>(r.weight_bytes_per_token) / 1e6);
  // The CPU backend takes the AMX tile path for quantized matmuls of
  // kAmxMinTokens or more tokens (prompts) when the CPU allows it.
  const bool amx = inf::cpu::active_isa() == inf::cpu::Isa::kAvx512 && inf::cpu::amx_usable();
  if (r.device != "cpu") {
    add("device       %s (prompt in chunks of %d tokens, greedy decode sampled on the device)\n",
        r.device_description.c_str(), r.batch);
    if (r.membw_is_peak)
      add("membw        %.2f GB/s (the device's peak memory bandwidth, not measured)\n",
          r.membw_gbs);
  } else {
    add("threads      %d (%s kernels%s)\n", r.threads, r.isa.c_str(),
        amx ? "; prompts on AMX bf16 tiles" : "");
  }
  if (r.membw_gbs > 0 && !r.membw_is_peak) {
    add("membw        %.2f GB/s read (STREAM-like probe, %s buffer, %d threads", r.membw_gbs,
        mib(static_cast<double>(r.membw_bytes)).c_str(), r.threads);
    if (r.membw_gbs_per_rep.size() > 1) {
      add("%s", "; mean of the probes after each decode test:");
      for (double g : r.membw_gbs_per_rep) add(" %.2f", g);
    }
    add("%s", ")\n");
  }
  add("\n%-10s %12s %10s %12s\n", "test", "tok/s", "+/-", "% of membw");
  add("%-10s %12.2f %10.2f %12s\n", ("pp" + std::to_string(r.prompt_tokens)).c_str(), r.pp_tok_s,
      r.pp_tok_s_sd, "");
  if (r.gen_tokens > 0) {
    char frac[32] = "";
    if (r.membw_gbs > 0) std::snprintf(frac, sizeof frac, "%.1f%%", 100.0 * r.decode_bw_fraction);
    std::string name = "tg" + std::to_string(r.gen_tokens);
    if (r.depth > 0) name += " @ d" + std::to_string(r.depth);
    add("%-10s %12.2f %10.2f %12s\n", name.c_str(), r.tg_tok_s, r.tg_tok_s_sd, frac);
  }
  add("(mean over %d repetitions)\n", r.reps);
  return out;
}

std::string infer_report_json(const InferBenchReport& r) {
  boost::json::array types;
  for (const auto& m : r.types)
    types.push_back({{"type", m.type}, {"tensors", m.tensors}, {"elements", m.elements},
                     {"bytes", m.bytes}});
  boost::json::object o{
      {"model", r.model_path},
      {"name", r.model_name},
      {"arch", r.arch},
      {"params", r.params},
      {"n_vocab", r.n_vocab},
      {"n_embd", r.n_embd},
      {"n_layer", r.n_layer},
      {"n_head", r.n_head},
      {"n_head_kv", r.n_head_kv},
      {"n_ff", r.n_ff},
      {"tied_embeddings", r.tied_embeddings},
      {"types", std::move(types)},
      {"file_bytes", r.file_bytes},
      {"weight_bytes_per_token", r.weight_bytes_per_token},
      {"threads", r.threads},
      {"isa", r.isa},
      {"load_seconds", r.load_seconds},
      {"reps", r.reps},
      {"prompt_tokens", r.prompt_tokens},
      {"depth", r.depth},
      {"pp_tok_s", r.pp_tok_s},
      {"pp_tok_s_sd", r.pp_tok_s_sd},
      {"gen_tokens", r.gen_tokens},
      {"tg_tok_s", r.tg_tok_s},
      {"tg_tok_s_sd", r.tg_tok_s_sd},
      {"membw_bytes", r.membw_bytes},
      {"membw_gbs", r.membw_gbs},
      {"membw_gbs_per_rep", boost::json::value_from(r.membw_gbs_per_rep)},
      {"decode_bw_fraction", r.decode_bw_fraction},
      {"device", r.device},
      {"device_description", r.device_description},
      {"membw_is_peak", r.membw_is_peak},
      {"batch", r.batch},
  };
  return boost::json::serialize(o);
}

}  // namespace scn::bench
