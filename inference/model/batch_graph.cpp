// The forward pass of the llama family over a batch of sequence chunks
// (BatchContext::eval). The same graph as llama_graph.cpp, but the rows of
// all chunks share every matmul, and attention runs per chunk over K/V
// gathered from the sequence's blocks. E = n_embd, Q = n_head * head_dim,
// KV = n_head_kv * head_dim, F = n_ff, V = n_vocab, N = rows of all chunks,
// S = chunks, bt = block_tokens; chunk c has n_c rows starting at row r_c.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "inference/model/batch_context.h"

namespace scn::inference {

void BatchContext::forward(std::span<const SeqChunk> chunks, int32_t N) {
  const ModelHparams& hp = model_.hparams();
  Backend& be = model_.backend();
  const int64_t E = hp.n_embd, Q = hp.q_dim(), KV = hp.kv_dim(), F = hp.n_ff;
  const int bt = pool_.block_tokens();
  const RopeParams rope = model_.rope();

  int32_t* tok = tok_.data();  // [N]     token ids
  int32_t* pos = pos_.data();  // [N]     absolute positions (per sequence)
  float* x = x_.data();        // [N][E]  the residual stream
  float* xb = xb_.data();      // [N][E]  normed input of a block, then its output
  float* q = q_.data();        // [N][Q]  queries
  float* k = k_.data();        // [N][KV] new keys
  float* v = v_.data();        // [N][KV] new values
  float* att = att_.data();    // [N][Q]  attention output (all heads side by side)
  float* hb = hb_.data();      // [N][F]  FFN gate, then silu(gate) * up
  float* hb2 = hb2_.data();    // [N][F]  FFN up
  float* kg = kg_.data();      // [pos0_c + n_c][KV] chunk c's keys, gathered
  float* vg = vg_.data();      // [pos0_c + n_c][KV] chunk c's values, gathered
  {
    int32_t r = 0;
    for (const SeqChunk& c : chunks)
      for (size_t i = 0; i < c.tokens.size(); ++i, ++r) {
        tok[r] = c.tokens[i];
        pos[r] = c.pos0 + static_cast<int32_t>(i);
      }
  }

  AttentionParams ap;  // n_tokens and pos0 are set per chunk
  ap.n_heads = hp.n_head;
  ap.n_kv_heads = hp.n_head_kv;
  ap.head_dim = hp.head_dim;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  ap.kv_stride = KV;

  // x[N][E] = embedding rows of the tokens
  be.get_rows(model_.token_embd(), tok, N, x);

  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const LayerWeights& L = model_.layers()[l];
    // ---- attention block ----
    // xb[N][E] = rmsnorm(x) * attn_norm
    be.rms_norm(x, L.attn_norm, xb, N, E, hp.rms_eps);
    // q[N][Q], k[N][KV], v[N][KV] = xb · W{q,k,v}ᵀ (+ bias for qwen2)
    {
      const Weight* w[] = {L.wq.get(), L.wk.get(), L.wv.get()};
      float* y[] = {q, k, v};
      be.matmul_multi(w, xb, N, y);
    }
    if (hp.has_qkv_bias) {
      be.add_bias(q, L.bq, N, Q);
      be.add_bias(k, L.bk, N, KV);
      be.add_bias(v, L.bv, N, KV);
    }
    // q and k rotated by each row's position
    be.rope(q, N, hp.n_head, hp.head_dim, pos, rope);
    be.rope(k, N, hp.n_head_kv, hp.head_dim, pos, rope);
    int32_t r0 = 0;
    for (const SeqChunk& c : chunks) {
      const auto n = static_cast<int32_t>(c.tokens.size());
      // The chunk's new K/V rows go into its blocks: position p -> block
      // blocks[p / bt], row p % bt.
      for (int32_t i = 0; i < n; ++i) {
        const int32_t p = c.pos0 + i;
        const int b = c.blocks[p / bt];
        const size_t off = static_cast<size_t>(p % bt) * KV;
        std::memcpy(pool_.k(b, l) + off, k + static_cast<size_t>(r0 + i) * KV, KV * sizeof(float));
        std::memcpy(pool_.v(b, l) + off, v + static_cast<size_t>(r0 + i) * KV, KV * sizeof(float));
      }
      // kg, vg [pos0 + n][KV] = the sequence's K/V rows, gathered block by block
      const int32_t len = c.pos0 + n;
      for (int32_t p = 0; p < len; p += bt) {
        const int b = c.blocks[p / bt];
        const size_t rows = static_cast<size_t>(std::min(bt, len - p));
        std::memcpy(kg + static_cast<size_t>(p) * KV, pool_.k(b, l), rows * KV * sizeof(float));
        std::memcpy(vg + static_cast<size_t>(p) * KV, pool_.v(b, l), rows * KV * sizeof(float));
      }
      // att[r0..r0+n)[Q] = softmax(q · kgᵀ * scale, causal) · vg
      AttentionParams apc = ap;
      apc.n_tokens = n;
      apc.pos0 = c.pos0;
      be.attention(q + static_cast<size_t>(r0) * Q, kg, vg, att + static_cast<size_t>(r0) * Q,
                   apc);
      r0 += n;
    }
    // xb[N][E] = att · Woᵀ;  x += xb
    be.matmul(*L.wo, att, N, xb);
    be.add(x, xb, static_cast<int64_t>(N) * E);

    // ---- feed-forward block (SwiGLU) ----
    // xb[N][E] = rmsnorm(x) * ffn_norm
    be.rms_norm(x, L.ffn_norm, xb, N, E, hp.rms_eps);
    // hb[N][F] = xb · Wgateᵀ;  hb2[N][F] = xb · Wupᵀ;  hb = silu(hb) * hb2
    {
      const Weight* w[] = {L.w_gate.get(), L.w_up.get()};
      float* y[] = {hb, hb2};
      be.matmul_multi(w, xb, N, y);
    }
    be.swiglu(hb, hb2, hb, static_cast<int64_t>(N) * F);
    // xb[N][E] = hb · Wdownᵀ;  x += xb
    be.matmul(*L.w_down, hb, N, xb);
    be.add(x, xb, static_cast<int64_t>(N) * E);
  }

  // Logits only for the last row of every chunk that wants them:
  // xo[m][E] = those rows of x (m <= S); xb[m][E] = rmsnorm(xo) * output_norm;
  // out[m][V] = xb · Woutputᵀ (token_embd when the embeddings are tied).
  int32_t m = 0;
  {
    int32_t r0 = 0;
    for (const SeqChunk& c : chunks) {
      r0 += static_cast<int32_t>(c.tokens.size());
      if (!c.logits) continue;
      std::memcpy(xo_.data() + static_cast<size_t>(m) * E, x + static_cast<size_t>(r0 - 1) * E,
                  E * sizeof(float));
      ++m;
    }
  }
  if (m == 0) return;
  be.rms_norm(xo_.data(), model_.output_norm(), xb, m, E, hp.rms_eps);
  const int64_t V = hp.n_vocab;
  be.matmul(model_.output(), xb, m, out_.data());
  int32_t j = 0;
  for (const SeqChunk& c : chunks) {
    if (!c.logits) continue;
    std::memcpy(c.logits, out_.data() + static_cast<size_t>(j) * V, V * sizeof(float));
    ++j;
  }
}

}  // namespace scn::inference
