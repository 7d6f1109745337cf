// Scalar reference ops (see reference.h): straightforward loops, sums in
// double, no threads.
#include "inference/backend/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "inference/backend/cpu/host_memory.h"
#include "inference/backend/cpu/quants.h"

namespace scn::inference::reference {

namespace {

// Row r of W as float.
void row_to_float(GgmlType type, const void* w, int64_t cols, int64_t r, float* out) {
  const auto* base = static_cast<const uint8_t*>(w) + static_cast<size_t>(r) * row_size(type, cols);
  if (type == GgmlType::F32) {
    std::memcpy(out, base, static_cast<size_t>(cols) * sizeof(float));
    return;
  }
  const Status st = dequantize_row(type, base, out, cols);
  if (!st.is_ok()) std::fill(out, out + cols, std::nanf(""));  // callers check the type first
}

}  // namespace

void matmul(GgmlType type, const void* w, int64_t rows, int64_t cols, const float* x,
            int64_t n, float* y) {
  std::vector<float> wr(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    row_to_float(type, w, cols, r, wr.data());
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * cols;
      double s = 0;
      for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(wr[c]) * xi[c];
      y[i * rows + r] = static_cast<float>(s);
    }
  }
}

void get_rows(GgmlType type, const void* w, int64_t rows, int64_t cols, const int32_t* ids,
              int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) row_to_float(type, w, cols, ids[i], out + i * cols);
}

void rms_norm(const float* x, const float* weight, float* y, int64_t n, int64_t dim,
              float eps) {
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * dim;
    double ss = 0;
    for (int64_t j = 0; j < dim; ++j) ss += static_cast<double>(xi[j]) * xi[j];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(dim) + eps);
    for (int64_t j = 0; j < dim; ++j)
      y[i * dim + j] = static_cast<float>(xi[j] * inv * weight[j]);
  }
}

void rope(float* x, int64_t n, int64_t n_heads, int64_t head_dim, const int32_t* pos,
          const RopeParams& p) {
  const int64_t d = std::min(p.n_dims, head_dim);
  for (int64_t i = 0; i < n; ++i) {
    const double position = static_cast<double>(pos[i]) * p.freq_scale;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + (i * n_heads + h) * head_dim;
      for (int64_t k = 0; k < d / 2; ++k) {
        // Pair k rotates by position * base^(-2k/d).
        double theta = position * std::pow(static_cast<double>(p.freq_base),
                                           -2.0 * static_cast<double>(k) / d);
        if (p.freq_factors) theta /= p.freq_factors[k];
        const double c = std::cos(theta), s = std::sin(theta);
        const int64_t a = p.neox ? k : 2 * k;
        const int64_t b = p.neox ? k + d / 2 : 2 * k + 1;
        const double x0 = v[a], x1 = v[b];
        v[a] = static_cast<float>(x0 * c - x1 * s);
        v[b] = static_cast<float>(x0 * s + x1 * c);
      }
    }
  }
}

void swiglu(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const double g = gate[i];
    out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void add(float* x, const float* y, int64_t count) {
  for (int64_t i = 0; i < count; ++i) x[i] += y[i];
}

void add_bias(float* y, const float* bias, int64_t n, int64_t dim) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dim; ++j) y[i * dim + j] += bias[j];
}

void attention(const float* q, const float* k, const float* v, float* out,
               const AttentionParams& p) {
  const int64_t hd = p.head_dim;
  const int64_t rep = p.n_heads / p.n_kv_heads;
  std::vector<double> score;
  std::vector<double> acc(static_cast<size_t>(hd));
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    const int64_t kv_len = p.pos0 + t + 1;  // causal: keys 0 .. pos0 + t
    score.assign(static_cast<size_t>(kv_len), 0.0);
    for (int64_t h = 0; h < p.n_heads; ++h) {
      const float* qh = q + (t * p.n_heads + h) * hd;
      const int64_t g = h / rep;
      double mx = -INFINITY;
      for (int64_t j = 0; j < kv_len; ++j) {
        const float* kj = k + j * p.kv_stride + g * hd;
        double s = 0;
        for (int64_t c = 0; c < hd; ++c) s += static_cast<double>(qh[c]) * kj[c];
        score[j] = s * p.scale;
        mx = std::max(mx, score[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < kv_len; ++j) sum += (score[j] = std::exp(score[j] - mx));
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j < kv_len; ++j) {
        const float* vj = v + j * p.kv_stride + g * hd;
        for (int64_t c = 0; c < hd; ++c) acc[c] += score[j] * vj[c];
      }
      float* o = out + (t * p.n_heads + h) * hd;
      for (int64_t c = 0; c < hd; ++c) o[c] = static_cast<float>(acc[c] / sum);
    }
  }
}

// The K (or V) row of KV slot `slot` of a layer.
static const float* kv_row(const float* base, const KvLayer& kv, int64_t slot) {
  return base + (slot / kv.block_tokens) * kv.block_stride + (slot % kv.block_tokens) * kv.kv_dim;
}

void kv_store(const KvLayer& kv, const float* k, const float* v, const PagedBatch& b) {
  for (int32_t r = 0; r < b.n_rows; ++r)
    for (int64_t c = 0; c < kv.kv_dim; ++c) {
      const_cast<float*>(kv_row(kv.k, kv, b.row_slot[r]))[c] = k[r * kv.kv_dim + c];
      const_cast<float*>(kv_row(kv.v, kv, b.row_slot[r]))[c] = v[r * kv.kv_dim + c];
    }
}

void paged_attention(const float* q, const KvLayer& kv, float* out, const PagedBatch& b,
                     const AttentionParams& p) {
  const int64_t qd = p.n_heads * p.head_dim;
  std::vector<float> k, v;
  for (int32_t r = 0; r < b.n_rows; ++r) {
    const int32_t s = b.row_seq[r];
    const int64_t len = static_cast<int64_t>(b.row_pos[r]) + 1;
    const int32_t* blocks = b.seq_blocks + static_cast<int64_t>(s) * b.max_blocks;
    k.resize(static_cast<size_t>(len * kv.kv_dim));
    v.resize(k.size());
    for (int64_t pos = 0; pos < len; ++pos) {
      const int64_t slot = static_cast<int64_t>(blocks[pos / kv.block_tokens]) * kv.block_tokens +
                           pos % kv.block_tokens;
      std::memcpy(&k[pos * kv.kv_dim], kv_row(kv.k, kv, slot), kv.kv_dim * sizeof(float));
      std::memcpy(&v[pos * kv.kv_dim], kv_row(kv.v, kv, slot), kv.kv_dim * sizeof(float));
    }
    AttentionParams one = p;
    one.n_tokens = 1;
    one.pos0 = len - 1;
    one.kv_stride = kv.kv_dim;
    attention(q + r * qd, k.data(), v.data(), out + r * qd, one);
  }
}

void gather_rows(const float* x, const int32_t* rows, int64_t n, int64_t dim, float* out) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < dim; ++c) out[i * dim + c] = x[static_cast<int64_t>(rows[i]) * dim + c];
}

void argmax(const float* logits, int64_t n, int64_t n_vocab, int32_t* ids) {
  for (int64_t i = 0; i < n; ++i) {
    const float* l = logits + i * n_vocab;
    int64_t best = 0;
    for (int64_t j = 1; j < n_vocab; ++j) {
      const float a = std::isnan(l[j]) ? -INFINITY : l[j];
      const float m = std::isnan(l[best]) ? -INFINITY : l[best];
      if (a > m) best = j;
    }
    ids[i] = static_cast<int32_t>(best);
  }
}

}  // namespace scn::inference::reference

namespace scn::inference {

namespace {

class ReferenceWeight final : public Weight {
 public:
  ReferenceWeight(GgmlType type, int64_t rows, int64_t cols, const void* data)
      : Weight(type, rows, cols), data_(data) {}
  size_t bytes() const override { return static_cast<size_t>(rows_) * row_size(type_, cols_); }
  const void* data() const { return data_; }

 private:
  const void* data_;
};

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  int n_threads() const override { return 1; }

  void* alloc(size_t bytes) override { return host_alloc(bytes); }
  void free(void* p) override { host_free(p); }
  void upload(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  Result<const float*> prepare_vector(const float* host, int64_t) override { return host; }

  Result<std::unique_ptr<Weight>> prepare_weight(GgmlType type, int64_t rows, int64_t cols,
                                                 const void* data) override {
    if (rows <= 0 || cols <= 0)
      return Status::invalid_argument("weight of " + std::to_string(rows) + "x" +
                                      std::to_string(cols) + " elements");
    if (type != GgmlType::F32) {
      // Probe the type with one block: dequantize_row names what it cannot do.
      if (!traits(type).supported || cols % block_size(type) != 0)
        return Status::unprocessable("reference backend: cannot compute with " +
                                     std::string(type_name(type)) + " rows of " +
                                     std::to_string(cols));
      std::vector<float> probe(static_cast<size_t>(block_size(type)));
      const Status st = dequantize_row(type, data, probe.data(), block_size(type));
      if (!st.is_ok()) return Status::unprocessable("reference backend: " + st.message());
    }
    return std::unique_ptr<Weight>(new ReferenceWeight(type, rows, cols, data));
  }

  void matmul(const Weight& w, const float* x, int64_t n, float* y) override {
    const auto& rw = static_cast<const ReferenceWeight&>(w);
    reference::matmul(w.type(), rw.data(), w.rows(), w.cols(), x, n, y);
  }
  void get_rows(const Weight& w, const int32_t* ids, int64_t n, float* out) override {
    const auto& rw = static_cast<const ReferenceWeight&>(w);
    reference::get_rows(w.type(), rw.data(), w.rows(), w.cols(), ids, n, out);
  }
  void rms_norm(const float* x, const float* weight, float* y, int64_t n, int64_t dim,
                float eps) override {
    reference::rms_norm(x, weight, y, n, dim, eps);
  }
  void rope(float* x, int64_t n, int64_t n_heads, int64_t head_dim, const int32_t* pos,
            const RopeParams& p) override {
    reference::rope(x, n, n_heads, head_dim, pos, p);
  }
  void swiglu(const float* gate, const float* up, float* out, int64_t count) override {
    reference::swiglu(gate, up, out, count);
  }
  void add(float* x, const float* y, int64_t count) override { reference::add(x, y, count); }
  void add_bias(float* y, const float* bias, int64_t n, int64_t dim) override {
    reference::add_bias(y, bias, n, dim);
  }
  void attention(const float* q, const float* k, const float* v, float* out,
                 const AttentionParams& p) override {
    reference::attention(q, k, v, out, p);
  }
  void kv_store(const KvLayer& kv, const float* k, const float* v,
                const PagedBatch& b) override {
    reference::kv_store(kv, k, v, b);
  }
  void paged_attention(const float* q, const KvLayer& kv, float* out, const PagedBatch& b,
                       const AttentionParams& p) override {
    reference::paged_attention(q, kv, out, b, p);
  }
  void gather_rows(const float* x, const int32_t* rows, int64_t n, int64_t dim,
                   float* out) override {
    reference::gather_rows(x, rows, n, dim, out);
  }
  void argmax(const float* logits, int64_t n, int64_t n_vocab, int32_t* ids) override {
    reference::argmax(logits, n, n_vocab, ids);
  }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace scn::inference
