// Helpers of the GPU tests (tests/gpu): the shared CUDA backend of the test
// process, device buffers filled from and read back into host vectors, random
// data, and the normalised mean squared error the comparisons use.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/backend/gpu.h"

namespace scn::inference::gpu_test {

// The CUDA backend on GPU 0, created once (gpu_main.cpp runs the tests only
// when list_gpus() succeeds).
inline Backend& cuda() {
  static std::unique_ptr<Backend> be = [] {
    auto r = make_cuda_backend(0);
    if (!r.is_ok()) return std::unique_ptr<Backend>();
    return std::move(r).value();
  }();
  if (!be) throw std::runtime_error("no CUDA backend");
  return *be;
}

// Backend memory holding a copy of a host vector.
template <typename T>
class Dev {
 public:
  explicit Dev(const std::vector<T>& host, Backend& be = cuda())
      : be_(&be), n_(host.size()), buf_(&be, std::max<size_t>(host.size(), 1) * sizeof(T)) {
    if (!buf_.ok()) throw std::runtime_error("device allocation failed");
    if (n_) be.upload(buf_.get(), host.data(), n_ * sizeof(T));
  }
  explicit Dev(size_t n, Backend& be = cuda()) : Dev(std::vector<T>(n), be) {}
  T* get() const { return buf_.get<T>(); }
  std::vector<T> host() const {
    std::vector<T> out(n_);
    if (n_) be_->download(out.data(), buf_.get(), n_ * sizeof(T));
    return out;
  }
  void set(const std::vector<T>& host) { be_->upload(buf_.get(), host.data(), n_ * sizeof(T)); }

 private:
  Backend* be_;
  size_t n_;
  BackendBuffer buf_;
};

inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float lo = -1.f,
                                        float hi = 1.f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// sum((a - b)^2) / sum(b^2); infinity when a holds a NaN/inf or the sizes differ.
inline double nmse(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return std::numeric_limits<double>::infinity();
    const double d = static_cast<double>(a[i]) - b[i];
    num += d * d;
    den += static_cast<double>(b[i]) * b[i];
  }
  return den > 0 ? num / den : num;
}

// The tolerance of float32 ops against the double-precision reference.
inline constexpr double kTolF32 = 1e-6;

}  // namespace scn::inference::gpu_test
