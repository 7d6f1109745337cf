// The forward pass of the llama family (llama, qwen2), one chunk of tokens
// at a time. Reads top to bottom like llama2.c's forward(); every buffer's
// shape is written beside it. E = n_embd, Q = n_head * head_dim,
// KV = n_head_kv * head_dim, F = n_ff, V = n_vocab, n = tokens in the chunk.
#include <cmath>

#include "inference/model/context.h"

namespace scn::inference {

void Context::forward(const int32_t* tokens, int32_t n, int32_t pos0, float* logits_out,
                      bool all_logits) {
  const ModelHparams& hp = model_.hparams();
  Backend& be = model_.backend();
  const int64_t E = hp.n_embd, Q = hp.q_dim(), KV = hp.kv_dim();
  const RopeParams rope = model_.rope();

  float* x = x_.data();      // [n][E]  the residual stream
  float* xb = xb_.data();    // [n][E]  normed input of a block, then its output
  float* q = q_.data();      // [m][Q]  queries (m <= n rows, see below)
  float* att = att_.data();  // [m][Q]  attention output (all heads side by side)
  float* hb = hb_.data();    // [m][F]  FFN gate, then silu(gate) * up
  float* hb2 = hb2_.data();  // [m][F]  FFN up
  int32_t* pos = pos_.data();  // [n]   absolute positions
  for (int32_t i = 0; i < n; ++i) pos[i] = pos0 + i;

  AttentionParams ap;  // n_tokens and pos0 are set per layer
  ap.n_heads = hp.n_head;
  ap.n_kv_heads = hp.n_head_kv;
  ap.head_dim = hp.head_dim;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  ap.kv_stride = KV;

  // x[n][E] = embedding rows of the tokens
  be.get_rows(model_.token_embd(), tokens, n, x);

  // Rows whose logits are wanted. In the last layer only they go on past
  // the K/V projections (the other rows' K/V are all later tokens need).
  const int32_t n_out = !logits_out ? 0 : all_logits ? n : 1;

  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const LayerWeights& L = model_.layers()[l];
    const int32_t m = l + 1 < hp.n_layer ? n : n_out;  // rows that go on
    const int32_t skip = n - m;                        // rows that stop after K/V
    // The new K and V rows go straight into the cache: k, v [n][KV] at rows pos0..pos0+n-1.
    float* k = kv_.k_row(l, pos0);
    float* v = kv_.v_row(l, pos0);
    float* xm = x + skip * E;  // [m][E] the rows of x that go on

    // ---- attention block ----
    // xb[n][E] = rmsnorm(x) * attn_norm
    be.rms_norm(x, L.attn_norm, xb, n, E, hp.rms_eps);
    // k[n][KV], v[n][KV] = xb · W{k,v}ᵀ (+ bias for qwen2), K rotated by position;
    // when all rows go on (skip == 0), q[n][Q] = xb · Wqᵀ in the same call
    if (skip == 0 && m > 0) {
      const Weight* w[] = {L.wq.get(), L.wk.get(), L.wv.get()};
      float* y[] = {q, k, v};
      be.matmul_multi(w, xb, n, y);
    } else {
      const Weight* w[] = {L.wk.get(), L.wv.get()};
      float* y[] = {k, v};
      be.matmul_multi(w, xb, n, y);
    }
    if (hp.has_qkv_bias) {
      be.add_bias(k, L.bk, n, KV);
      be.add_bias(v, L.bv, n, KV);
    }
    be.rope(k, n, hp.n_head_kv, hp.head_dim, pos, rope);
    if (m == 0) break;  // prefill without logits: the last layer's K/V were all it needed
    // q[m][Q] = xb[skip..] · Wqᵀ (+ bias), rotated by position
    if (skip != 0) be.matmul(*L.wq, xb + skip * E, m, q);
    if (hp.has_qkv_bias) be.add_bias(q, L.bq, m, Q);
    be.rope(q, m, hp.n_head, hp.head_dim, pos + skip, rope);
    // att[m][Q] = softmax(q · Kᵀ * scale, causal) · V over cache rows [0, pos0 + skip + i]
    AttentionParams apl = ap;
    apl.n_tokens = m;
    apl.pos0 = pos0 + skip;
    be.attention(q, kv_.k(l), kv_.v(l), att, apl);
    // xb[m][E] = att · Woᵀ;  xm += xb
    be.matmul(*L.wo, att, m, xb);
    be.add(xm, xb, m * E);

    // ---- feed-forward block (SwiGLU) ----
    // xb[m][E] = rmsnorm(xm) * ffn_norm; hb[m][F] = xb · Wgateᵀ; hb2[m][F] = xb · Wupᵀ;
    // hb = silu(hb) * hb2 (one fused op: a backend may skip writing hb2)
    be.rms_norm_matmul_swiglu(*L.w_gate, *L.w_up, xm, L.ffn_norm, hp.rms_eps, m, xb, hb, hb2, hb);
    // xb[m][E] = hb · Wdownᵀ;  xm += xb
    be.matmul(*L.w_down, hb, m, xb);
    be.add(xm, xb, m * E);
  }

  if (n_out == 0) return;
  // xb[n_out][E] = rmsnorm(last n_out rows of x) * output_norm
  be.rms_norm(x + (n - n_out) * E, model_.output_norm(), xb, n_out, E, hp.rms_eps);
  // logits[n_out][V] = xb · Woutputᵀ (token_embd when the embeddings are tied)
  be.matmul(model_.output(), xb, n_out, logits_out);
}

}  // namespace scn::inference
