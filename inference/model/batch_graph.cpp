// The forward pass of the llama family over a batch of sequence chunks
// (BatchContext::eval), written in backend ops only so that it runs on the
// CPU and on a GPU alike. Reads top to bottom like llama2.c's forward(); every
// buffer's shape is written beside it. E = n_embd, Q = n_head * head_dim,
// KV = n_head_kv * head_dim, F = n_ff, V = n_vocab, N = rows of all chunks,
// S = chunks, m = chunks whose last row's logits (or arg-max) are wanted.
#include <algorithm>
#include <bit>
#include <cmath>

#include "inference/model/batch_context.h"

namespace scn::inference {

namespace {

// log2 of the smallest power of two >= max(v, lo).
uint64_t log2_bucket(int64_t v, int64_t lo) {
  return static_cast<uint64_t>(std::bit_width(static_cast<uint64_t>(std::max(v, lo) - 1)));
}

}  // namespace

void BatchContext::forward(std::span<const SeqChunk> chunks, int32_t N) {
  const ModelHparams& hp = model_.hparams();
  Backend& be = model_.backend();
  const int64_t E = hp.n_embd, KV = hp.kv_dim(), V = hp.n_vocab;
  const int32_t bt = pool_.block_tokens();
  const auto S = static_cast<int32_t>(chunks.size());
  const RopeParams rope = model_.rope();

  // ---- the step descriptor, built on the host ----
  // Sections of desc_ (int32, fixed offsets): tok, row_pos, row_seq, row_slot
  // [max_tokens]; seq_row0, seq_n_rows, seq_pos0, out_rows [max_seqs];
  // seq_blocks [max_seqs][max_blocks].
  const size_t NT = static_cast<size_t>(max_tokens_), NS = static_cast<size_t>(max_seqs_);
  int32_t* h = desc_host_.data();
  int32_t *h_tok = h, *h_pos = h + NT, *h_seq = h + 2 * NT, *h_slot = h + 3 * NT;
  int32_t *h_row0 = h + 4 * NT, *h_nrows = h_row0 + NS, *h_pos0 = h_nrows + NS;
  int32_t *h_out = h_pos0 + NS, *h_blocks = h_out + NS;
  int32_t m = 0, max_len = 0, max_rows = 0;
  bool want_ids = false;
  {
    int32_t r = 0;
    for (int32_t s = 0; s < S; ++s) {
      const SeqChunk& c = chunks[static_cast<size_t>(s)];
      const auto n = static_cast<int32_t>(c.tokens.size());
      const int32_t len = c.pos0 + n;
      h_row0[s] = r;
      h_nrows[s] = n;
      h_pos0[s] = c.pos0;
      int32_t* table = h_blocks + static_cast<size_t>(s) * max_blocks_;
      const int32_t n_blocks = (len + bt - 1) / bt;
      for (int32_t i = 0; i < n_blocks; ++i) table[i] = c.blocks[static_cast<size_t>(i)];
      for (int32_t i = 0; i < n; ++i, ++r) {
        const int32_t p = c.pos0 + i;
        h_tok[r] = c.tokens[static_cast<size_t>(i)];
        h_pos[r] = p;
        h_seq[r] = s;
        h_slot[r] = table[p / bt] * bt + p % bt;
      }
      if (c.logits || c.argmax_out) h_out[m++] = r - 1;
      want_ids = want_ids || c.argmax_out;
      max_len = std::max(max_len, len);
      max_rows = std::max(max_rows, n);
    }
  }
  // One upload: everything up to the last used row of the block tables.
  be.upload(desc_.get(), h, (4 * NT + 4 * NS + static_cast<size_t>(S) * max_blocks_) * sizeof(int32_t));

  int32_t* d = desc_.get<int32_t>();
  const int32_t* tok = d;                 // [N] token ids
  const int32_t* out_rows = d + 4 * NT + 3 * NS;  // [m] rows of x whose logits are wanted
  PagedBatch pb;
  pb.n_rows = N;
  pb.n_seqs = S;
  pb.max_blocks = max_blocks_;
  const uint64_t lg_len = log2_bucket(max_len, kMinLenBucket);
  const uint64_t lg_rows = log2_bucket(max_rows, 1);
  pb.max_len = static_cast<int32_t>(std::min<uint64_t>(uint64_t{1} << lg_len, INT32_MAX));
  pb.max_rows = static_cast<int32_t>(uint64_t{1} << lg_rows);
  pb.row_pos = d + NT;
  pb.row_seq = d + 2 * NT;
  pb.row_slot = d + 3 * NT;
  pb.seq_row0 = d + 4 * NT;
  pb.seq_n_rows = d + 4 * NT + NS;
  pb.seq_pos0 = d + 4 * NT + 2 * NS;
  pb.seq_blocks = d + 4 * NT + 4 * NS;

  float* x = x_.get<float>();      // [N][E]  the residual stream
  float* xb = xb_.get<float>();    // [N][E]  normed input of a block / a projection's output
  float* q = q_.get<float>();      // [N][Q]  queries
  float* k = k_.get<float>();      // [N][KV] new keys
  float* v = v_.get<float>();      // [N][KV] new values
  float* att = att_.get<float>();  // [N][Q]  attention output (all heads side by side)
  float* hb = hb_.get<float>();    // [N][F]  FFN gate, then silu(gate) * up
  float* hb2 = hb2_.get<float>();  // [N][F]  FFN up
  float* xo = xo_.get<float>();    // [m][E]  the rows of x whose logits are wanted
  float* out = out_.get<float>();  // [m][V]  their logits
  int32_t* ids = ids_.get<int32_t>();  // [m] their arg-max

  AttentionParams ap;
  ap.n_heads = hp.n_head;
  ap.n_kv_heads = hp.n_head_kv;
  ap.head_dim = hp.head_dim;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  ap.kv_stride = KV;

  const auto record = [&] {
    // x[N][E] = embedding rows of the tokens
    be.get_rows(model_.token_embd(), tok, N, x);

    for (int64_t l = 0; l < hp.n_layer; ++l) {
      const LayerWeights& L = model_.layers()[static_cast<size_t>(l)];
      const KvLayer kv = pool_.layer(l);
      // ---- attention block ----
      // xb[N][E] = rmsnorm(x) * attn_norm;  q[N][Q], k[N][KV], v[N][KV] = xb · W{q,k,v}ᵀ
      {
        const Weight* w[] = {L.wq.get(), L.wk.get(), L.wv.get()};
        float* y[] = {q, k, v};
        be.rms_norm_matmul(w, x, L.attn_norm, hp.rms_eps, N, xb, y);
      }
      // q, k, v += biases (qwen2); q, k rotated by each row's position;
      // k, v rows stored into their KV slots (the sequences' blocks)
      be.qkv_rope_store(q, k, v, L.bq, L.bk, L.bv, hp.n_head, hp.n_head_kv, hp.head_dim, rope,
                        kv, pb);
      // att[N][Q] = softmax(q · Kᵀ * scale, causal) · V over each row's sequence
      be.paged_attention(q, kv, att, pb, ap);
      // x += att · Woᵀ  (xb[N][E] holds the product)
      be.matmul_add(*L.wo, att, N, x, xb);

      // ---- feed-forward block (SwiGLU) ----
      // xb[N][E] = rmsnorm(x) * ffn_norm;  hb[N][F] = xb · Wgateᵀ;  hb2[N][F] = xb · Wupᵀ;
      // hb = silu(hb) * hb2
      be.rms_norm_matmul_swiglu(*L.w_gate, *L.w_up, x, L.ffn_norm, hp.rms_eps, N, xb, hb, hb2,
                                hb);
      // x += hb · Wdownᵀ  (xb[N][E] holds the product)
      be.matmul_add(*L.w_down, hb, N, x, xb);
    }

    if (m == 0) return;
    // xo[m][E] = the last row of every chunk that wants an output
    be.gather_rows(x, out_rows, m, E, xo);
    // xb[m][E] = rmsnorm(xo) * output_norm
    be.rms_norm(xo, model_.output_norm(), xb, m, E, hp.rms_eps);
    // out[m][V] = xb · Woutputᵀ (token_embd when the embeddings are tied)
    be.matmul(model_.output(), xb, m, out);
    // ids[m] = arg-max of each row of out (greedy sampling on the device)
    if (want_ids) be.argmax(out, m, V, ids);
  };

  // Decode-shaped steps (one row per chunk) replay a graph; see batch_context.h.
  if (max_rows == 1) {
    last_key_ = static_cast<uint64_t>(N) | static_cast<uint64_t>(S) << 16 |
                static_cast<uint64_t>(m) << 26 | lg_len << 36 | lg_rows << 41 |
                static_cast<uint64_t>(want_ids) << 46 | (serial_ & 0x1ffff) << 47;
    be.run_graph(last_key_, record);
  } else {
    last_key_ = 0;
    record();
  }

  // ---- outputs: all ids in one download, logits rows where asked ----
  if (want_ids) be.download(ids_host_.data(), ids, static_cast<size_t>(m) * sizeof(int32_t));
  int32_t j = 0;
  for (const SeqChunk& c : chunks) {
    if (!c.logits && !c.argmax_out) continue;
    if (c.argmax_out) *c.argmax_out = ids_host_[static_cast<size_t>(j)];
    if (c.logits)
      be.download(c.logits, out + static_cast<size_t>(j) * V, static_cast<size_t>(V) * sizeof(float));
    ++j;
  }
}

}  // namespace scn::inference
