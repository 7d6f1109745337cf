// The CUDA backend (see cuda_backend.h): device memory, staged uploads, the
// graph cache of run_graph, and the ops — weight products forwarded to the
// MatmulRunner (cuda_matmul.h), everything else to the kernels of cuda_ops.h.
#include "inference/backend/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "inference/backend/cuda/cuda_common.h"
#include "inference/backend/cuda/cuda_matmul.h"
#include "inference/backend/cuda/cuda_ops.h"

namespace scn::inference::cuda {
namespace {

bool env_flag(const char* name, bool def) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  const std::string s(v);
  return !(s == "0" || s == "false" || s == "off" || s == "no");
}

std::string version_string(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

constexpr size_t kStageBytes = size_t{2} << 20;  // per half of the pinned staging buffer
constexpr size_t kMaxGraphKeys = 256;

struct Resources {  // what create_cuda_backend sets up, released on failure
  int device = 0;
  cudaStream_t stream = nullptr;
  void* stage[2] = {nullptr, nullptr};
  cudaEvent_t stage_ev[2] = {nullptr, nullptr};
  void release() {
    for (int i = 0; i < 2; ++i) {
      if (stage_ev[i]) cudaEventDestroy(stage_ev[i]);
      if (stage[i]) cudaFreeHost(stage[i]);
      stage_ev[i] = nullptr;
      stage[i] = nullptr;
    }
    if (stream) cudaStreamDestroy(stream);
    stream = nullptr;
  }
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(const GpuInfo& gpu, Resources res, std::unique_ptr<MatmulRunner> mm, int n_sm,
              std::string description)
      : device_(gpu.index),
        res_(res),
        stream_(res.stream),
        mm_(std::move(mm)),
        n_sm_(n_sm),
        description_(std::move(description)) {
    sync_check_ = env_flag("SCN_CUDA_SYNC_CHECK", false);
    graphs_enabled_ = env_flag("SCN_CUDA_GRAPHS", true) && !sync_check_;
    if (sync_check_)
      common::log_info("CUDA backend: SCN_CUDA_SYNC_CHECK=1, every op is synchronised and "
                       "checked; CUDA graphs off");
    else if (!graphs_enabled_)
      common::log_info("CUDA backend: CUDA graphs disabled (SCN_CUDA_GRAPHS=0)");
  }

  ~CudaBackend() override {
    if (cudaSetDevice(device_) != cudaSuccess) return;  // the context is gone
    (void)cudaStreamSynchronize(stream_);
    drop_graphs();
    for (void* p : vectors_) (void)cudaFree(p);
    if (attn_scratch_) (void)cudaFree(attn_scratch_);
    mm_.reset();
    res_.release();
    (void)cudaGetLastError();
  }

  std::string_view name() const override { return "cuda"; }
  int n_threads() const override { return 1; }
  std::string describe() const override { return description_; }

  // ---- memory ----------------------------------------------------------------
  void* alloc(size_t bytes) override {
    activate();
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, std::max<size_t>(bytes, 1));
    if (err != cudaSuccess) {
      common::log_warn("CUDA backend: ",
                       cuda_status(err, "cudaMalloc(" + std::to_string(bytes) + ")").message());
      return nullptr;
    }
    check(cudaMemsetAsync(p, 0, bytes, stream_), "alloc (zero fill)");
    return p;
  }

  void free(void* p) override {
    if (!p) return;
    activate();
    check(cudaStreamSynchronize(stream_), "free (wait for queued ops)");
    check(cudaFree(p), "cudaFree");
  }

  // Through the two halves of a pinned staging buffer: `src` is copied before
  // upload() returns, the device copy runs in stream order.
  void upload(void* dst, const void* src, size_t bytes) override {
    activate();
    const auto* s = static_cast<const uint8_t*>(src);
    auto* d = static_cast<uint8_t*>(dst);
    while (bytes > 0) {
      const size_t n = std::min(bytes, kStageBytes);
      const int i = stage_next_;
      stage_next_ ^= 1;
      check(cudaEventSynchronize(res_.stage_ev[i]), "upload (staging buffer)");
      std::memcpy(res_.stage[i], s, n);
      check(cudaMemcpyAsync(d, res_.stage[i], n, cudaMemcpyHostToDevice, stream_), "upload");
      check(cudaEventRecord(res_.stage_ev[i], stream_), "upload (event)");
      s += n;
      d += n;
      bytes -= n;
    }
  }

  void download(void* dst, const void* src, size_t bytes) override {
    activate();
    if (bytes > 0)
      check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "download");
    check(cudaStreamSynchronize(stream_), "download (synchronize)");
  }

  void synchronize() override {
    activate();
    check(cudaStreamSynchronize(stream_), "synchronize");
  }

  Result<const float*> prepare_vector(const float* host, int64_t n) override {
    activate();
    if (n <= 0) return Status::invalid_argument("prepare_vector of " + std::to_string(n) + " floats");
    const size_t bytes = static_cast<size_t>(n) * sizeof(float);
    void* p = nullptr;
    SCN_RETURN_IF_ERROR(cuda_status(cudaMalloc(&p, bytes), "cudaMalloc (vector)"));
    vectors_.push_back(p);
    SCN_RETURN_IF_ERROR(cuda_status(
        cudaMemcpyAsync(p, host, bytes, cudaMemcpyHostToDevice, stream_), "upload (vector)"));
    SCN_RETURN_IF_ERROR(cuda_status(cudaStreamSynchronize(stream_), "upload (vector)"));
    return static_cast<const float*>(p);
  }

  // ---- graphs ----------------------------------------------------------------
  void run_graph(uint64_t key, const std::function<void()>& record) override;

  // ---- weights ---------------------------------------------------------------
  Result<std::unique_ptr<Weight>> prepare_weight(GgmlType type, int64_t rows, int64_t cols,
                                                 const void* data) override {
    activate();
    return upload_weight(type, rows, cols, data, stream_);
  }

  void matmul(const Weight& w, const float* x, int64_t n, float* y) override {
    activate();
    const Weight* ws[] = {&w};
    float* ys[] = {y};
    mm_->matmul(ws, x, n, ys, nullptr, 0.f, false);
    done("matmul");
  }
  void matmul_multi(std::span<const Weight* const> ws, const float* x, int64_t n,
                    std::span<float* const> ys) override {
    activate();
    mm_->matmul(ws, x, n, ys, nullptr, 0.f, false);
    done("matmul_multi");
  }
  void get_rows(const Weight& w, const int32_t* ids, int64_t n, float* out) override {
    activate();
    mm_->get_rows(w, ids, n, out);
    done("get_rows");
  }
  void rms_norm_matmul(std::span<const Weight* const> ws, const float* x, const float* norm,
                       float eps, int64_t n, float* /*tmp*/,
                       std::span<float* const> ys) override {
    activate();
    mm_->matmul(ws, x, n, ys, norm, eps, false);
    done("rms_norm_matmul");
  }
  void rms_norm_matmul_swiglu(const Weight& w_gate, const Weight& w_up, const float* x,
                              const float* norm, float eps, int64_t n, float* /*tmp*/,
                              float* /*gate*/, float* /*up*/, float* out) override {
    activate();
    mm_->matmul_swiglu(w_gate, w_up, x, n, norm, eps, out);
    done("rms_norm_matmul_swiglu");
  }
  void matmul_add(const Weight& w, const float* x, int64_t n, float* y, float* /*tmp*/) override {
    activate();
    const Weight* ws[] = {&w};
    float* ys[] = {y};
    mm_->matmul(ws, x, n, ys, nullptr, 0.f, true);
    done("matmul_add");
  }

  // ---- element-wise and glue ops -------------------------------------------------
  void rms_norm(const float* x, const float* weight, float* y, int64_t n, int64_t dim,
                float eps) override {
    activate();
    launch_rms_norm(stream_, x, weight, y, n, dim, eps);
    done("rms_norm");
  }
  void rope(float* x, int64_t n, int64_t n_heads, int64_t head_dim, const int32_t* pos,
            const RopeParams& p) override {
    activate();
    launch_rope(stream_, x, n, n_heads, head_dim, pos, p);
    done("rope");
  }
  void swiglu(const float* gate, const float* up, float* out, int64_t count) override {
    activate();
    launch_swiglu(stream_, gate, up, out, count);
    done("swiglu");
  }
  void add(float* x, const float* y, int64_t count) override {
    activate();
    launch_add(stream_, x, y, count);
    done("add");
  }
  void add_bias(float* y, const float* bias, int64_t n, int64_t dim) override {
    activate();
    launch_add_bias(stream_, y, bias, n, dim);
    done("add_bias");
  }
  void qkv_rope_store(float* q, float* k, float* v, const float* bq, const float* bk,
                      const float* bv, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                      const RopeParams& rope, const KvLayer& kv, const PagedBatch& b) override {
    activate();
    launch_qkv_rope_store(stream_, q, k, v, bq, bk, bv, n_heads, n_kv_heads, head_dim, rope, kv,
                          b);
    done("qkv_rope_store");
  }
  void kv_store(const KvLayer& kv, const float* k, const float* v, const PagedBatch& b) override {
    activate();
    launch_kv_store(stream_, kv, k, v, b);
    done("kv_store");
  }
  void gather_rows(const float* x, const int32_t* rows, int64_t n, int64_t dim,
                   float* out) override {
    activate();
    launch_gather_rows(stream_, x, rows, n, dim, out);
    done("gather_rows");
  }
  void argmax(const float* logits, int64_t n, int64_t n_vocab, int32_t* ids) override {
    activate();
    launch_argmax(stream_, logits, n, n_vocab, ids);
    done("argmax");
  }

  // ---- attention -------------------------------------------------------------
  void attention(const float* q, const float* k, const float* v, float* out,
                 const AttentionParams& p) override {
    activate();
    AttnArgs a;
    a.q = q;
    a.out = out;
    a.k = k;
    a.v = v;
    a.row_stride = p.kv_stride;
    a.bt = INT_MAX;
    a.pos0 = static_cast<int32_t>(p.pos0);
    a.n_rows = static_cast<int32_t>(p.n_tokens);
    run_attention(a, p, p.pos0 + p.n_tokens, "attention");
  }
  void paged_attention(const float* q, const KvLayer& kv, float* out, const PagedBatch& b,
                       const AttentionParams& p) override {
    activate();
    AttnArgs a;
    a.q = q;
    a.out = out;
    a.k = kv.k;
    a.v = kv.v;
    a.block_stride = kv.block_stride;
    a.row_stride = kv.kv_dim;
    a.bt = std::max<int32_t>(kv.block_tokens, 1);
    a.table = b.seq_blocks;
    a.max_blocks = b.max_blocks;
    a.row_pos = b.row_pos;
    a.row_seq = b.row_seq;
    a.n_rows = b.n_rows;
    run_attention(a, p, b.max_len, "paged_attention");
  }

 private:
  // Makes the backend's GPU current for this thread (only when it is not:
  // also called while a graph is being captured).
  void activate() {
    int cur = -1;
    cudaError_t err = cudaGetDevice(&cur);
    if (err == cudaSuccess && cur == device_) return;
    err = cudaSetDevice(device_);
    if (err != cudaSuccess) cuda_fatal(err, "cudaSetDevice(" + std::to_string(device_) + ")");
  }
  void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess) cuda_fatal(err, what);
  }
  // After an op's launches: a launch error is fatal, except while capturing
  // a graph (the capture is then abandoned and the step re-run eagerly).
  void done(const char* op) {
    const cudaError_t err = cudaGetLastError();
    if (capturing_) {
      if (err != cudaSuccess) capture_failed_ = true;
      return;
    }
    if (err != cudaSuccess) cuda_fatal(err, op);
    if (sync_check_) {
      const cudaError_t e2 = cudaStreamSynchronize(stream_);
      if (e2 != cudaSuccess) cuda_fatal(e2, std::string(op) + " (SCN_CUDA_SYNC_CHECK)");
      const cudaError_t e3 = cudaGetLastError();
      if (e3 != cudaSuccess) cuda_fatal(e3, std::string(op) + " (SCN_CUDA_SYNC_CHECK)");
    }
  }

  void run_attention(AttnArgs& a, const AttentionParams& p, int64_t max_len, const char* op);
  float* attention_scratch(size_t bytes);
  uint64_t generation() const { return gen_ + mm_->generation(); }
  void drop_graphs();

  struct Graph {
    cudaGraphExec_t exec = nullptr;
    uint32_t calls = 0;
    bool eager_only = false;
  };

  int device_;
  Resources res_;
  cudaStream_t stream_;
  std::unique_ptr<MatmulRunner> mm_;
  int n_sm_;
  std::string description_;
  bool sync_check_ = false, graphs_enabled_ = true;
  int stage_next_ = 0;
  std::vector<void*> vectors_;
  float* attn_scratch_ = nullptr;
  size_t attn_scratch_bytes_ = 0;
  uint64_t gen_ = 0;  // bumped when attn_scratch_ moves
  std::unordered_map<uint64_t, Graph> graphs_;
  uint64_t graphs_gen_ = 0;
  bool capturing_ = false, capture_failed_ = false, capture_warned_ = false;
};

void CudaBackend::run_attention(AttnArgs& a, const AttentionParams& p, int64_t max_len,
                                const char* op) {
  if (a.n_rows <= 0) return;
  if (p.n_kv_heads <= 0 || p.n_heads <= 0 || p.n_heads % p.n_kv_heads != 0 ||
      p.head_dim <= 0 || p.head_dim > kMaxAttnHeadDim) {
    common::log_error("CUDA backend: ", op, ": unsupported heads (", p.n_heads, " query, ",
                      p.n_kv_heads, " KV, head_dim ", p.head_dim, "; head_dim <= ",
                      kMaxAttnHeadDim, ")");
    std::abort();
  }
  a.n_heads = static_cast<int32_t>(p.n_heads);
  a.n_kv_heads = static_cast<int32_t>(p.n_kv_heads);
  a.head_dim = static_cast<int32_t>(p.head_dim);
  a.scale = p.scale;
  const AttnPlan plan = plan_attention(a.n_rows, p.n_heads, p.n_kv_heads, p.head_dim,
                                       std::max<int64_t>(max_len, 1), n_sm_);
  const size_t bytes = attention_scratch_bytes(plan, a.n_rows, p.n_heads, p.head_dim);
  float* scratch = bytes ? attention_scratch(bytes) : nullptr;
  if (bytes && !scratch) return;  // capturing with too little scratch: capture abandoned
  launch_attention(stream_, a, plan, scratch);
  done(op);
}

float* CudaBackend::attention_scratch(size_t bytes) {
  if (bytes <= attn_scratch_bytes_) return attn_scratch_;
  if (capturing_) {  // no allocation inside a capture: abandon it, the eager re-run grows
    capture_failed_ = true;
    return nullptr;
  }
  const size_t want = std::max(bytes, 2 * attn_scratch_bytes_);
  check(cudaStreamSynchronize(stream_), "attention scratch (wait)");
  if (attn_scratch_) check(cudaFree(attn_scratch_), "cudaFree (attention scratch)");
  attn_scratch_ = nullptr;
  attn_scratch_bytes_ = 0;
  ++gen_;
  void* p = nullptr;
  check(cudaMalloc(&p, want), "cudaMalloc (attention scratch)");
  attn_scratch_ = static_cast<float*>(p);
  attn_scratch_bytes_ = want;
  return attn_scratch_;
}

void CudaBackend::drop_graphs() {
  for (auto& [key, g] : graphs_)
    if (g.exec) (void)cudaGraphExecDestroy(g.exec);
  graphs_.clear();
}

void CudaBackend::run_graph(uint64_t key, const std::function<void()>& record) {
  activate();
  if (!graphs_enabled_) {
    record();
    return;
  }
  const uint64_t gen = generation();
  if (gen != graphs_gen_ || graphs_.size() >= kMaxGraphKeys) {
    drop_graphs();
    graphs_gen_ = gen;
  }
  Graph& g = graphs_[key];
  if (g.exec) {
    check(cudaGraphLaunch(g.exec, stream_), "cudaGraphLaunch");
    done("graph launch");
    return;
  }
  if (g.eager_only || g.calls++ == 0) {  // first call: eager, allocates what it needs
    record();
    return;
  }
  cudaError_t err = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
  cudaGraph_t graph = nullptr;
  if (err == cudaSuccess) {
    capturing_ = true;
    capture_failed_ = false;
    record();
    capturing_ = false;
    err = cudaStreamEndCapture(stream_, &graph);
  }
  cudaGraphExec_t exec = nullptr;
  if (err == cudaSuccess && graph && !capture_failed_ && generation() == gen)
    err = cudaGraphInstantiate(&exec, graph, 0);
  if (graph) (void)cudaGraphDestroy(graph);
  if (err != cudaSuccess || !exec) {
    (void)cudaGetLastError();
    if (generation() == gen) {
      g.eager_only = true;
      if (!capture_warned_) {
        capture_warned_ = true;
        common::log_warn("CUDA backend: graph capture failed (", cudaGetErrorName(err),
                         capture_failed_ ? ", an op failed while capturing" : "",
                         "); running such steps eagerly");
      }
    }
    record();  // nothing ran during the capture
    done("eager step after a failed capture");
    return;
  }
  g.exec = exec;
  check(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch");
  done("graph launch");
}

}  // namespace

Result<std::unique_ptr<Backend>> create_cuda_backend(const GpuInfo& gpu) {
  Resources res;
  res.device = gpu.index;
  auto fail = [&](cudaError_t err, const char* what) {
    Status st = cuda_status(err, what);
    res.release();
    return st;
  };
  cudaError_t err = cudaSetDevice(gpu.index);
  if (err != cudaSuccess) return fail(err, "cudaSetDevice");
  if ((err = cudaStreamCreateWithFlags(&res.stream, cudaStreamNonBlocking)) != cudaSuccess)
    return fail(err, "cudaStreamCreate");
  for (int i = 0; i < 2; ++i) {
    if ((err = cudaHostAlloc(&res.stage[i], kStageBytes, cudaHostAllocDefault)) != cudaSuccess)
      return fail(err, "cudaHostAlloc (staging buffer)");
    if ((err = cudaEventCreateWithFlags(&res.stage_ev[i], cudaEventDisableTiming)) != cudaSuccess)
      return fail(err, "cudaEventCreate");
  }
  int n_sm = 1;
  if ((err = cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, gpu.index)) !=
      cudaSuccess)
    return fail(err, "cudaDeviceGetAttribute");
  auto mm = MatmulRunner::create(res.stream);
  if (!mm.is_ok()) {
    res.release();
    return mm.status();
  }
  int driver = 0, runtime = 0;
  (void)cudaDriverGetVersion(&driver);
  (void)cudaRuntimeGetVersion(&runtime);
  char mem[32];
  std::snprintf(mem, sizeof mem, "%.1f GiB", static_cast<double>(gpu.memory_total) / (1ull << 30));
  std::string desc = "cuda:" + std::to_string(gpu.index) + " " + gpu.name + ", " + mem + ", sm_" +
                     std::to_string(gpu.cc_major) + std::to_string(gpu.cc_minor) + ", " +
                     std::to_string(n_sm) + " SMs, driver " + version_string(driver) +
                     " / runtime " + version_string(runtime);
  return std::unique_ptr<Backend>(
      new CudaBackend(gpu, res, std::move(mm).value(), n_sm, std::move(desc)));
}

}  // namespace scn::inference::cuda
