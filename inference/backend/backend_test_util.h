// Helpers shared by the backend op tests (backend_test.cpp, paged_ops_test.cpp):
// random inputs, an element-wise closeness check, and the CPU backends under test.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "inference/backend/backend.h"

namespace scn::inference::testing {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// |got - want| <= atol + rtol * |want| everywhere; reports the first miss.
inline void check_close(const float* got, const float* want, size_t n, double atol, double rtol,
                        const std::string& what) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < n; ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(err <= atol + rtol * std::fabs(want[i]))) {
      if (bad++ == 0) first = i;
    }
  }
  INFO(what << ": " << bad << " of " << n << " values out of tolerance; first at " << first
            << ": got " << (n ? got[first] : 0.f) << " want " << (n ? want[first] : 0.f));
  CHECK(bad == 0);
}

// The CPU backend with 1 and with 2 threads.
inline std::vector<std::unique_ptr<Backend>> cpu_backends() {
  std::vector<std::unique_ptr<Backend>> v;
  v.push_back(make_cpu_backend(1));
  v.push_back(make_cpu_backend(2));
  return v;
}

}  // namespace scn::inference::testing
