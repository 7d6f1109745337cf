// BatchContext: the batched forward pass over paged K/V gives the logits of
// the single-sequence Context, for several sequences at once, in chunks, and
// with a shared prefix block.
#include "inference/model/batch_context.h"

#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "inference/backend/forwarding_backend.h"
#include "inference/model/model_test_util.h"

namespace scn::inference {
namespace {

using namespace model_test;

constexpr int kVocab = 512;

std::vector<int32_t> story(size_t from, size_t n) {
  const auto t = read_golden_story().tokens;
  std::vector<int32_t> s{1};  // BOS
  s.insert(s.end(), t.begin() + static_cast<std::ptrdiff_t>(from),
           t.begin() + static_cast<std::ptrdiff_t>(from + n));
  return s;
}

// Logits [kVocab] after each token of seq, fed one token per eval.
std::vector<std::vector<float>> reference(const Model& model, const std::vector<int32_t>& seq) {
  auto ctx = make_context(model);
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < seq.size(); ++i) {
    std::vector<float> l(kVocab);
    REQUIRE(ctx->eval({&seq[i], 1}, static_cast<int32_t>(i), l.data(), false).is_ok());
    out.push_back(std::move(l));
  }
  return out;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

struct Seq {
  std::vector<int32_t> tokens;
  std::vector<int> blocks;
  int32_t done = 0;
};

TEST_CASE("batched forward: several sequences in chunks match one-by-one decoding") {
  const auto model = load_model(open_stories(), make_cpu_backend(1));
  const int bt = 4;
  KvPool pool(model->backend(), model->hparams().n_layer, model->hparams().kv_dim(), bt, 64);
  auto batch = BatchContext::create(*model, pool, 24, 128, 8);
  REQUIRE(batch.is_ok());
  std::vector<Seq> seqs = {{story(0, 30), {}}, {story(40, 17), {}}, {story(5, 3), {}},
                           {story(60, 41), {}}};
  std::vector<std::vector<std::vector<float>>> want;
  for (auto& s : seqs) want.push_back(reference(*model, s.tokens));
  for (auto& s : seqs)
    for (size_t p = 0; p < s.tokens.size(); p += bt) s.blocks.push_back(pool.allocate());

  // Each step: chunks of 1..7 tokens per unfinished sequence, logits of every
  // chunk's last token checked against the reference.
  for (int step = 0;; ++step) {
    std::vector<SeqChunk> chunks;
    std::vector<std::vector<float>> logits(seqs.size(), std::vector<float>(kVocab));
    std::vector<size_t> who;
    for (size_t i = 0; i < seqs.size(); ++i) {
      Seq& s = seqs[i];
      const int32_t left = static_cast<int32_t>(s.tokens.size()) - s.done;
      if (left == 0) continue;
      const int32_t n = std::min<int32_t>(left, 1 + (step + static_cast<int32_t>(i) * 3) % 7);
      SeqChunk c;
      c.tokens = std::span<const int32_t>(s.tokens.data() + s.done, static_cast<size_t>(n));
      c.pos0 = s.done;
      c.blocks = s.blocks;
      c.logits = logits[i].data();
      chunks.push_back(c);
      who.push_back(i);
    }
    if (chunks.empty()) break;
    REQUIRE((*batch)->eval(chunks).is_ok());
    for (size_t j = 0; j < chunks.size(); ++j) {
      Seq& s = seqs[who[j]];
      s.done += static_cast<int32_t>(chunks[j].tokens.size());
      INFO("sequence " << who[j] << " at " << s.done);
      CHECK(max_diff(logits[who[j]], want[who[j]][static_cast<size_t>(s.done - 1)]) <= 1e-4f);
    }
  }
}

TEST_CASE("batched forward: a shared prefix block gives the same logits") {
  const auto model = load_model(open_stories(), make_cpu_backend(1));
  const int bt = 8;
  KvPool pool(model->backend(), model->hparams().n_layer, model->hparams().kv_dim(), bt, 16);
  auto batch = BatchContext::create(*model, pool, 64, 64, 4);
  REQUIRE(batch.is_ok());
  auto a = story(0, 20);
  auto b = a;
  b.resize(12);
  b.push_back(a[30 % a.size()]);
  const auto want_b = reference(*model, b);
  // a fills blocks 0..2; b shares a's first block and computes from 8.
  std::vector<int> ba = {pool.allocate(), pool.allocate(), pool.allocate()};
  std::vector<float> la(kVocab), lb(kVocab);
  SeqChunk ca{a, 0, ba, la.data()};
  REQUIRE((*batch)->eval({&ca, 1}).is_ok());
  pool.retain(ba[0]);
  std::vector<int> bb = {ba[0], pool.allocate()};
  SeqChunk cb{std::span<const int32_t>(b).subspan(bt), bt, bb, lb.data()};
  REQUIRE((*batch)->eval({&cb, 1}).is_ok());
  CHECK(max_diff(lb, want_b.back()) <= 1e-4f);
}

TEST_CASE("batched forward: bad arguments are errors that write nothing") {
  const auto model = load_model(open_stories(), make_cpu_backend(1));
  KvPool pool(model->backend(), model->hparams().n_layer, model->hparams().kv_dim(), 4, 8);
  auto batch = BatchContext::create(*model, pool, 8, 16, 2);
  REQUIRE(batch.is_ok());
  std::vector<int32_t> t = {1, 2, 3};
  std::vector<int> blocks = {pool.allocate()};
  std::vector<int> bad_block = {99};
  std::vector<int32_t> bad_tok = {1, 600};
  std::vector<int32_t> many(9, 5);
  std::vector<int> four = {0, 1, 2, 3};
  struct Case {
    const char* what;
    std::vector<SeqChunk> chunks;
    Code code;
  } cases[] = {
      {"no chunks", {}, Code::kInvalidArgument},
      {"empty chunk", {{std::span<const int32_t>(), 0, blocks, nullptr}}, Code::kInvalidArgument},
      {"negative pos", {{t, -1, blocks, nullptr}}, Code::kInvalidArgument},
      {"short block table", {{t, 2, blocks, nullptr}}, Code::kInvalidArgument},
      {"block outside", {{t, 0, bad_block, nullptr}}, Code::kInvalidArgument},
      {"token outside", {{bad_tok, 0, blocks, nullptr}}, Code::kInvalidArgument},
      {"too many rows", {{many, 0, four, nullptr}}, Code::kTooLarge},
      {"beyond max_ctx", {{t, 14, four, nullptr}}, Code::kTooLarge},
      {"too many sequences", {{t, 0, blocks, nullptr}, {t, 0, blocks, nullptr}, {t, 0, blocks, nullptr}}, Code::kTooLarge},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    CHECK((*batch)->eval(c.chunks).code() == c.code);
  }
  CHECK(BatchContext::create(*model, pool, 0, 16, 2).status().code() == Code::kInvalidArgument);
  KvPool other(model->backend(), 2, 8, 4, 4);
  CHECK(BatchContext::create(*model, other, 8, 16, 2).status().code() == Code::kInvalidArgument);
}

TEST_CASE("batched forward: argmax_out equals the arg-max of the logits; mixed steps") {
  const auto model = load_model(open_stories(), make_cpu_backend(2));
  const int bt = 4;
  KvPool pool(model->backend(), model->hparams().n_layer, model->hparams().kv_dim(), bt, 96);
  auto batch = BatchContext::create(*model, pool, 40, 128, 6);
  REQUIRE(batch.is_ok());
  // Six sequences of different lengths; each step mixes decode rows (1
  // token) and prefill chunks, and asks for logits, the arg-max, both or
  // nothing, by turns.
  std::vector<Seq> seqs = {{story(0, 9), {}},  {story(10, 25), {}}, {story(3, 1), {}},
                           {story(50, 33), {}}, {story(7, 14), {}}, {story(80, 5), {}}};
  std::vector<std::vector<std::vector<float>>> want;
  for (auto& s : seqs) want.push_back(reference(*model, s.tokens));
  for (auto& s : seqs)
    for (size_t p = 0; p < s.tokens.size(); p += bt) s.blocks.push_back(pool.allocate());
  int checked_ids = 0, checked_logits = 0;
  for (int step = 0;; ++step) {
    std::vector<SeqChunk> chunks;
    std::vector<std::vector<float>> logits(seqs.size(), std::vector<float>(kVocab, NAN));
    std::vector<int32_t> ids(seqs.size(), -1);
    std::vector<size_t> who;
    for (size_t i = 0; i < seqs.size(); ++i) {
      Seq& s = seqs[i];
      const int32_t left = static_cast<int32_t>(s.tokens.size()) - s.done;
      if (left == 0) continue;
      const int32_t n = std::min<int32_t>(left, (step + static_cast<int32_t>(i)) % 3 == 0 ? 5 : 1);
      SeqChunk c;
      c.tokens = std::span<const int32_t>(s.tokens.data() + s.done, static_cast<size_t>(n));
      c.pos0 = s.done;
      c.blocks = s.blocks;
      const int mode = (step + static_cast<int>(i)) % 4;  // 0 logits, 1 ids, 2 both, 3 nothing
      if (mode == 0 || mode == 2) c.logits = logits[i].data();
      if (mode == 1 || mode == 2) c.argmax_out = &ids[i];
      chunks.push_back(c);
      who.push_back(i);
    }
    if (chunks.empty()) break;
    REQUIRE((*batch)->eval(chunks).is_ok());
    for (size_t j = 0; j < chunks.size(); ++j) {
      Seq& s = seqs[who[j]];
      s.done += static_cast<int32_t>(chunks[j].tokens.size());
      const auto& w = want[who[j]][static_cast<size_t>(s.done - 1)];
      INFO("sequence " << who[j] << " at " << s.done);
      if (chunks[j].logits) {
        CHECK(max_diff(logits[who[j]], w) <= 1e-4f);
        ++checked_logits;
      }
      if (chunks[j].argmax_out) {
        CHECK(ids[who[j]] == argmax(w.data(), kVocab));
        if (chunks[j].logits) CHECK(ids[who[j]] == argmax(logits[who[j]].data(), kVocab));
        ++checked_ids;
      } else {
        CHECK(ids[who[j]] == -1);
      }
    }
  }
  CHECK(checked_ids > 10);
  CHECK(checked_logits > 10);
}

// Counts run_graph calls by key; computes on the CPU backend.
class GraphCounter final : public ForwardingBackend {
 public:
  GraphCounter() : ForwardingBackend(make_cpu_backend(1)) {}
  void run_graph(uint64_t key, const std::function<void()>& record) override {
    ++calls[key];
    ForwardingBackend::run_graph(key, record);
  }
  std::map<uint64_t, int> calls;
};

TEST_CASE("batched forward: decode steps run as graphs keyed by their shape, prefill eagerly") {
  auto counter = std::make_shared<GraphCounter>();
  GraphCounter& be = *counter;
  const auto model = load_model(open_stories(), counter);
  const int bt = 4;
  KvPool pool(model->backend(), model->hparams().n_layer, model->hparams().kv_dim(), bt, 64);
  auto batch = BatchContext::create(*model, pool, 32, 128, 4);
  REQUIRE(batch.is_ok());
  BatchContext& ctx = **batch;
  std::vector<Seq> seqs = {{story(0, 40), {}}, {story(20, 40), {}}, {story(60, 40), {}}};
  for (auto& s : seqs)
    for (size_t p = 0; p < s.tokens.size(); p += bt) s.blocks.push_back(pool.allocate());
  std::vector<int32_t> ids(seqs.size());
  // Runs one step: n tokens of each of the first `count` sequences, all asking for ids.
  auto step = [&](size_t count, int32_t n) {
    std::vector<SeqChunk> chunks;
    for (size_t i = 0; i < count; ++i) {
      Seq& s = seqs[i];
      SeqChunk c;
      c.tokens = std::span<const int32_t>(s.tokens.data() + s.done, static_cast<size_t>(n));
      c.pos0 = s.done;
      c.blocks = s.blocks;
      c.argmax_out = &ids[i];
      chunks.push_back(c);
      s.done += n;
    }
    REQUIRE(ctx.eval(chunks).is_ok());
    return ctx.last_graph_key();
  };
  // Prefill (chunks of 5 rows): eager, no graph.
  CHECK(step(3, 5) == 0);
  CHECK(be.calls.empty());
  // Decode steps of the same shape reuse one key.
  const uint64_t k3 = step(3, 1);
  CHECK(k3 != 0);
  CHECK(step(3, 1) == k3);
  CHECK(step(3, 1) == k3);
  CHECK(be.calls.size() == 1);
  CHECK(be.calls[k3] == 3);
  // Another number of rows, another key; back to 3 rows, the first key.
  const uint64_t k2 = step(2, 1);
  CHECK(k2 != 0);
  CHECK(k2 != k3);
  CHECK(step(3, 1) == k3);
  CHECK(be.calls[k3] == 4);
  CHECK(be.calls[k2] == 1);
  // A mixed step (one chunk of 2 rows) is eager again.
  {
    std::vector<SeqChunk> chunks(2);
    for (size_t i = 0; i < 2; ++i) {
      Seq& s = seqs[i];
      const int32_t n = i == 0 ? 2 : 1;
      chunks[i].tokens = std::span<const int32_t>(s.tokens.data() + s.done, static_cast<size_t>(n));
      chunks[i].pos0 = s.done;
      chunks[i].blocks = s.blocks;
      chunks[i].argmax_out = &ids[i];
      s.done += n;
    }
    REQUIRE(ctx.eval(chunks).is_ok());
    CHECK(ctx.last_graph_key() == 0);
  }
  // Asking for logits instead of ids changes the ops (no arg-max): another key.
  {
    std::vector<float> logits(kVocab);
    Seq& s = seqs[0];
    SeqChunk c;
    c.tokens = std::span<const int32_t>(s.tokens.data() + s.done, 1);
    c.pos0 = s.done;
    c.blocks = s.blocks;
    c.logits = logits.data();
    s.done += 1;
    REQUIRE(ctx.eval({&c, 1}).is_ok());
    CHECK(ctx.last_graph_key() != 0);
    CHECK(ctx.last_graph_key() != k3);
  }
  // A second context on the same backend never shares a key with the first.
  auto other = BatchContext::create(*model, pool, 32, 128, 4);
  REQUIRE(other.is_ok());
  {
    Seq& s = seqs[2];
    SeqChunk c;
    c.tokens = std::span<const int32_t>(s.tokens.data() + s.done, 1);
    c.pos0 = s.done;
    c.blocks = s.blocks;
    c.argmax_out = &ids[2];
    REQUIRE((*other)->eval({&c, 1}).is_ok());
    CHECK((*other)->last_graph_key() != 0);
    REQUIRE(ctx.eval({&c, 1}).is_ok());
    CHECK((*other)->last_graph_key() != ctx.last_graph_key());
  }
}

}  // namespace
}  // namespace scn::inference
