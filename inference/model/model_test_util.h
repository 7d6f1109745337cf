// Helpers shared by the model tests (header-only: only *_test.cpp include
// it). Loading stories260K, the golden reference files, rewriting a GGUF
// file in memory (renamed keys, converted tensors) and greedy decoding.
#pragma once

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/gguf/gguf.h"
#include "inference/model/batch_context.h"
#include "inference/model/context.h"
#include "inference/model/kv_pool.h"
#include "inference/model/model.h"
#include "tests/testing.h"

namespace scn::inference::model_test {

inline std::string stories_path() { return scn::testing::shared_path("models/stories260K.gguf"); }

inline std::shared_ptr<const GgufFile> open_stories() {
  auto f = GgufFile::open(stories_path());
  REQUIRE_MESSAGE(f.is_ok(), f.status().to_string());
  return std::shared_ptr<const GgufFile>(std::move(f).value());
}

// A GgufFile over bytes it owns.
inline Result<std::shared_ptr<const GgufFile>> open_bytes(std::vector<uint8_t> bytes) {
  auto holder = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  SCN_ASSIGN_OR_RETURN(auto f, GgufFile::from_memory(holder->data(), holder->size()));
  return std::shared_ptr<const GgufFile>(f.release(), [holder](const GgufFile* p) { delete p; });
}

// How rewrite() changes a file. Each hook is optional.
struct Rewrite {
  // New key name for a metadata key ("" drops it).
  std::function<std::string(const std::string&)> rename_key;
  // Replaces a tensor: may change type, dims and bytes; returning false drops it.
  std::function<bool(const GgufTensorInfo&, GgmlType&, std::vector<int64_t>&,
                     std::vector<uint8_t>&)> tensor;
  // Called last to add keys or tensors.
  std::function<void(GgufWriter&)> extra;
};

inline std::vector<uint8_t> rewrite(const GgufFile& src, const Rewrite& rw) {
  GgufWriter w;
  for (const auto& [k, v] : src.metadata()) {
    const std::string name = rw.rename_key ? rw.rename_key(k) : k;
    if (!name.empty()) w.set(name, v);
  }
  for (const GgufTensorInfo& t : src.tensors()) {
    GgmlType type = t.type;
    std::vector<int64_t> dims = t.dims;
    std::vector<uint8_t> data(t.data, t.data + t.nbytes);
    if (rw.tensor && !rw.tensor(t, type, dims, data)) continue;
    const Status st = w.add_tensor(t.name, type, dims, data);
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  }
  if (rw.extra) rw.extra(w);
  auto bytes = w.serialize();
  REQUIRE_MESSAGE(bytes.is_ok(), bytes.status().to_string());
  return std::move(bytes).value();
}

inline std::unique_ptr<Model> load_model(std::shared_ptr<const GgufFile> f,
                                         std::shared_ptr<Backend> be) {
  auto m = Model::load(std::move(f), std::move(be));
  REQUIRE_MESSAGE(m.is_ok(), m.status().to_string());
  return std::move(m).value();
}

inline std::unique_ptr<Context> make_context(const Model& m, int32_t n_ctx = 0,
                                             int32_t n_batch = 512) {
  auto c = Context::create(m, n_ctx, n_batch);
  REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
  return std::move(c).value();
}

inline int32_t argmax(const float* x, int64_t n) {
  return static_cast<int32_t>(std::max_element(x, x + n) - x);
}

inline std::vector<double> log_softmax(const float* x, int64_t n) {
  const double mx = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  const double lse = mx + std::log(sum);
  std::vector<double> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] - lse;
  return out;
}

// Greedy decoding: the prompt in one eval, then one token per eval.
// logits_per_step (optional) receives the n_vocab logits each token was chosen from.
inline std::vector<int32_t> greedy(Context& ctx, const std::vector<int32_t>& prompt, int n,
                                   std::vector<std::vector<float>>* logits_per_step = nullptr) {
  std::vector<float> logits(ctx.n_vocab());
  std::vector<int32_t> out;
  Status st = ctx.eval(prompt, 0, logits.data(), false);
  REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  int32_t pos = static_cast<int32_t>(prompt.size());
  for (int i = 0; i < n; ++i) {
    if (logits_per_step) logits_per_step->push_back(logits);
    const int32_t next = argmax(logits.data(), ctx.n_vocab());
    out.push_back(next);
    if (i + 1 == n) break;
    st = ctx.eval({&next, 1}, pos++, logits.data(), false);
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  }
  return out;
}

// Greedy decoding through the batched forward pass on any backend (the
// engine's path): the prompt in chunks of `chunk` tokens, then one token per
// eval, each chosen by the backend's arg-max (SeqChunk::argmax_out).
// first_logits (optional) receives the logits after the prompt.
inline std::vector<int32_t> greedy_batched(const Model& model, const std::vector<int32_t>& prompt,
                                           int n, int32_t chunk = 64,
                                           std::vector<float>* first_logits = nullptr) {
  const ModelHparams& hp = model.hparams();
  const int bt = 16;
  const auto n_ctx = static_cast<int32_t>(prompt.size()) + n + 1;
  KvPool pool(model.backend(), hp.n_layer, hp.kv_dim(), bt, (n_ctx + bt - 1) / bt);
  std::vector<int> blocks;
  for (int i = 0; i < pool.n_blocks(); ++i) blocks.push_back(pool.allocate());
  auto batch = BatchContext::create(model, pool, chunk, n_ctx, 1);
  REQUIRE_MESSAGE(batch.is_ok(), batch.status().to_string());
  std::vector<int32_t> seq = prompt, out;
  int32_t done = 0, id = -1;
  if (first_logits) first_logits->assign(static_cast<size_t>(hp.n_vocab), 0.f);
  while (static_cast<int>(out.size()) < n) {
    const int32_t m = std::min<int32_t>(chunk, static_cast<int32_t>(seq.size()) - done);
    SeqChunk c;
    c.tokens = std::span<const int32_t>(seq.data() + done, static_cast<size_t>(m));
    c.pos0 = done;
    c.blocks = blocks;
    const bool last = done + m == static_cast<int32_t>(seq.size());
    if (last) c.argmax_out = &id;
    if (last && first_logits && out.empty()) c.logits = first_logits->data();
    const Status st = (*batch)->eval({&c, 1});
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
    done += m;
    if (!last) continue;
    out.push_back(id);
    seq.push_back(id);
  }
  return out;
}

// ../shared/golden/stories260K.txt
struct GoldenStory {
  std::vector<int32_t> tokens;         // BOS + 200 greedy tokens
  std::vector<int32_t> prompt_tokens;  // "Once upon a time" with BOS
  struct Logits {
    int32_t argmax = -1;
    float max_logit = 0;
    float first4[4] = {0, 0, 0, 0};
  } pos[2];                            // logits at positions 0 and 1
};

inline std::vector<int32_t> parse_ints(const std::string& s) {
  std::istringstream in(s);
  std::vector<int32_t> v;
  int32_t x;
  while (in >> x) v.push_back(x);
  return v;
}

inline GoldenStory read_golden_story() {
  std::ifstream in(scn::testing::shared_path("golden/stories260K.txt"));
  REQUIRE(in.good());
  GoldenStory g;
  std::string line;
  bool tokens_next = false;
  int logits_seen = 0;
  while (std::getline(in, line)) {
    if (tokens_next) {
      g.tokens = parse_ints(line);
      tokens_next = false;
    } else if (line.rfind("TOKENS", 0) == 0) {
      tokens_next = true;
    } else if (line.rfind("PROMPT_TOKENS:", 0) == 0) {
      g.prompt_tokens = parse_ints(line.substr(14));
    } else if (const size_t a = line.find("argmax="); a != std::string::npos && logits_seen < 2) {
      // "argmax=403 logit=17.023516; logits[0..3] = -6.222911 8.404342 -6.223737 -6.222542"
      GoldenStory::Logits& L = g.pos[logits_seen++];
      REQUIRE(std::sscanf(line.c_str() + a, "argmax=%d logit=%f; logits[0..3] = %f %f %f %f",
                          &L.argmax, &L.max_logit, &L.first4[0], &L.first4[1], &L.first4[2],
                          &L.first4[3]) == 6);
    }
  }
  REQUIRE(g.tokens.size() == 201);
  REQUIRE(logits_seen == 2);
  return g;
}

struct GoldenPrompt {
  std::string prompt;
  std::vector<int32_t> tokens, greedy;
  std::vector<std::vector<std::pair<int32_t, double>>> top5;  // per step, best first
};

// ../shared/golden/stories260K-prompts.json
inline std::vector<GoldenPrompt> read_golden_prompts() {
  std::ifstream in(scn::testing::shared_path("golden/stories260K-prompts.json"));
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const boost::json::value doc = boost::json::parse(ss.str());
  std::vector<GoldenPrompt> out;
  for (const auto& e : doc.as_array()) {
    const auto& o = e.as_object();
    GoldenPrompt p;
    p.prompt = std::string(o.at("prompt").as_string());
    for (const auto& t : o.at("prompt_tokens_with_bos").as_array())
      p.tokens.push_back(static_cast<int32_t>(t.to_number<int64_t>()));
    for (const auto& t : o.at("greedy_tokens").as_array())
      p.greedy.push_back(static_cast<int32_t>(t.to_number<int64_t>()));
    for (const auto& step : o.at("top5_logprobs").as_array()) {
      std::vector<std::pair<int32_t, double>> top;
      for (const auto& c : step.as_array())
        top.emplace_back(static_cast<int32_t>(c.at("id").to_number<int64_t>()),
                         c.at("logprob").to_number<double>());
      p.top5.push_back(std::move(top));
    }
    out.push_back(std::move(p));
  }
  REQUIRE(out.size() == 5);
  return out;
}

}  // namespace scn::inference::model_test
