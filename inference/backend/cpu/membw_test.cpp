// The bandwidth probe returns a plausible figure on one and two threads.
#include <doctest/doctest.h>

#include "inference/backend/cpu/membw.h"

namespace scn::inference::cpu {
namespace {

TEST_CASE("measure_read_bandwidth_gbs gives a positive, plausible figure") {
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    const double gbs = measure_read_bandwidth_gbs(pool, 32u << 20);
    INFO("threads " << threads << ": " << gbs << " GB/s");
    CHECK(gbs > 0.1);
    CHECK(gbs < 10000.0);
  }
}

}  // namespace
}  // namespace scn::inference::cpu
