// make_backend (backend.h): the device names of the --device flag.
#include <charconv>
#include <string>

#include "common/log.h"
#include "inference/backend/backend.h"
#include "inference/backend/gpu.h"

namespace scn::inference {

Result<std::unique_ptr<Backend>> make_backend(std::string_view device, int n_threads) {
  if (device == "cpu") return make_cpu_backend(n_threads);
  if (device == "cuda") return make_cuda_backend(0);
  if (device.starts_with("cuda:")) {
    const std::string_view num = device.substr(5);
    int index = -1;
    const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), index);
    if (num.empty() || ec != std::errc() || end != num.data() + num.size() || index < 0)
      return Status::invalid_argument("expected cuda:N with N a GPU index (0, 1, ...)");
    return make_cuda_backend(index);
  }
  if (device == "auto") {
    auto gpu = make_cuda_backend(0);
    if (gpu.is_ok()) {
      common::log_info("backend: ", gpu.value()->describe());
      return gpu;
    }
    auto cpu = make_cpu_backend(n_threads);
    common::log_info("backend: ", cpu->describe(), " (no GPU: ", gpu.status().message(), ")");
    return cpu;
  }
  return Status::invalid_argument("unknown device name (expected cpu, cuda, cuda:N or auto)");
}

}  // namespace scn::inference
