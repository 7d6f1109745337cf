// GPU inventory and the CUDA backend factory (gpu.h) for SCN_CUDA=ON builds.
// cudart is linked statically and loads the driver (libcuda.so.1) itself, so
// on a machine without a driver every call returns an error code that is
// turned into a clear kUnavailable message here.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/backend/cuda/cuda_backend.h"
#include "inference/backend/cuda/cuda_common.h"
#include "inference/backend/gpu.h"

namespace scn::inference {

namespace {

std::string version_string(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

// Why the CUDA runtime could not enumerate GPUs, in words.
Status no_gpu_status(cudaError_t err) {
  int driver = 0, runtime = 0;
  (void)cudaDriverGetVersion(&driver);
  (void)cudaRuntimeGetVersion(&runtime);
  (void)cudaGetLastError();
  const std::string rt = "CUDA runtime " + version_string(runtime);
  if (err == cudaErrorInsufficientDriver && driver == 0)
    return Status::unavailable("no NVIDIA driver found (libcuda.so.1 could not be loaded; " + rt +
                               ")");
  if (err == cudaErrorInsufficientDriver)
    return Status::unavailable("the NVIDIA driver (CUDA " + version_string(driver) +
                               ") is older than this build's " + rt + " needs");
  if (err == cudaErrorNoDevice || err == cudaSuccess)
    return Status::unavailable("no CUDA GPU is visible (driver CUDA " + version_string(driver) +
                               "; check CUDA_VISIBLE_DEVICES)");
  return cuda::cuda_status(err, "cudaGetDeviceCount");
}

}  // namespace

bool built_with_cuda() { return true; }

Result<std::vector<GpuInfo>> list_gpus() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess || n <= 0) return no_gpu_status(err);
  int prev = -1;
  (void)cudaGetDevice(&prev);
  std::vector<GpuInfo> gpus;
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp prop{};
    SCN_RETURN_IF_ERROR(cuda::cuda_status(cudaGetDeviceProperties(&prop, i),
                                          "cudaGetDeviceProperties(" + std::to_string(i) + ")"));
    GpuInfo g;
    g.index = i;
    g.name = prop.name;
    g.memory_total = prop.totalGlobalMem;
    g.cc_major = prop.major;
    g.cc_minor = prop.minor;
    char bus[32];
    std::snprintf(bus, sizeof bus, "%04x:%02x:%02x.0", prop.pciDomainID, prop.pciBusID,
                  prop.pciDeviceID);
    g.pci_bus_id = bus;
    size_t free_b = 0, total_b = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) {
      g.memory_free = free_b;
      if (total_b) g.memory_total = total_b;
    } else {
      (void)cudaGetLastError();
    }
    gpus.push_back(std::move(g));
  }
  if (prev >= 0) (void)cudaSetDevice(prev);
  return gpus;
}

Result<std::unique_ptr<Backend>> make_cuda_backend(int device) {
  SCN_ASSIGN_OR_RETURN(std::vector<GpuInfo> gpus, list_gpus());
  if (device < 0 || device >= static_cast<int>(gpus.size()))
    return Status::unavailable("no GPU cuda:" + std::to_string(device) + " (" +
                               std::to_string(gpus.size()) + " visible)");
  return cuda::create_cuda_backend(gpus[static_cast<size_t>(device)]);
}

}  // namespace scn::inference
