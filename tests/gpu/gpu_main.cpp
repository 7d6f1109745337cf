// The main of test_gpu: runs the doctest suite when a GPU is usable, else
// prints "SKIPPED: <reason>" and exits 77 (CTest's SKIP_RETURN_CODE).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "inference/backend/gpu.h"

int main(int argc, char** argv) {
  const auto gpus = scn::inference::list_gpus();
  if (!gpus.is_ok()) {
    std::printf("SKIPPED: %s\n", gpus.status().message().c_str());
    return 77;
  }
  for (const auto& g : gpus.value())
    std::printf("GPU %d: %s, sm_%d%d, %.1f GiB (%.1f GiB free), %s\n", g.index, g.name.c_str(),
                g.cc_major, g.cc_minor, static_cast<double>(g.memory_total) / (1ull << 30),
                static_cast<double>(g.memory_free) / (1ull << 30), g.pci_bus_id.c_str());
  std::fflush(stdout);
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
