// `scn bench gpu-ops`: see gpu_ops_bench.h.
#include "bench/gpu_ops_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include "inference/backend/backend.h"
#include "inference/backend/cpu/quants.h"

namespace scn::bench {
namespace {

namespace po = boost::program_options;
using inference::Backend;
using inference::BackendBuffer;
using inference::GgmlType;
using inference::Weight;

// Fast deterministic filler (xorshift64*).
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
  }
};

// Random weight bytes in GGUF layout with sane scales (no inf / NaN): random
// quants, every fp16 scale set to a small normal value, float elements small.
std::vector<uint8_t> random_weight(GgmlType t, int64_t rows, int64_t cols, uint64_t seed) {
  const size_t bytes = inference::row_size(t, cols) * static_cast<size_t>(rows);
  std::vector<uint8_t> w(bytes);
  Rng rng{seed * 0x9E3779B97F4A7C15ULL + 1};
  for (size_t i = 0; i + 8 <= bytes; i += 8) {
    const uint64_t v = rng.next();
    std::memcpy(&w[i], &v, 8);
  }
  const uint16_t small_half = inference::fp32_to_fp16(0.01f);
  auto set_half = [&](size_t off) { std::memcpy(&w[off], &small_half, 2); };
  const size_t bs = inference::type_size(t);
  switch (t) {
    case GgmlType::F32:
      for (size_t i = 0; i < bytes; i += 4) {
        const float f = static_cast<float>(static_cast<int32_t>(rng.next() & 0xFFFF) - 32768) * 1e-5f;
        std::memcpy(&w[i], &f, 4);
      }
      break;
    case GgmlType::F16: case GgmlType::BF16:
      for (size_t i = 0; i < bytes; i += 2) {
        const float f = static_cast<float>(static_cast<int32_t>(rng.next() & 0xFFFF) - 32768) * 1e-5f;
        const uint16_t h = t == GgmlType::F16 ? inference::fp32_to_fp16(f) : inference::fp32_to_bf16(f);
        std::memcpy(&w[i], &h, 2);
      }
      break;
    case GgmlType::Q8_0: case GgmlType::Q4_0:
      for (size_t b = 0; b < bytes; b += bs) set_half(b);
      break;
    case GgmlType::Q4_K:
      for (size_t b = 0; b < bytes; b += bs) { set_half(b); set_half(b + 2); }
      break;
    case GgmlType::Q6_K:
      for (size_t b = 0; b < bytes; b += bs) set_half(b + 208);
      break;
    default: break;
  }
  return w;
}

struct Result1 {
  std::string type;
  int64_t rows, cols, n;
  double us, gbs, pct, tflops;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Median seconds of one product (n rows of x) over `copies` weights.
double time_product(Backend* be, const std::vector<std::unique_ptr<Weight>>& ws, int64_t n,
                    int reps, uint64_t key) {
  const int64_t rows = ws[0]->rows(), cols = ws[0]->cols();
  BackendBuffer x(be, static_cast<size_t>(n * cols) * 4), y(be, static_cast<size_t>(n * rows) * 4);
  if (!x.ok() || !y.ok()) return -1;
  std::vector<float> hx(static_cast<size_t>(n * cols));
  Rng rng{key + 7};
  for (auto& f : hx) f = static_cast<float>(static_cast<int32_t>(rng.next() & 0xFFFF) - 32768) / 32768.f;
  be->upload(x.get(), hx.data(), hx.size() * 4);
  // k calls per replay: enough that the replay's launch and the host
  // round trip are small against it.
  const double bytes = static_cast<double>(ws[0]->bytes());
  const double est_s = std::max(bytes / 4.0e12, 2.0 * rows * cols * n / 5.0e14);
  const int k = static_cast<int>(std::clamp(2e-3 / std::max(est_s, 1e-9), 8.0, 256.0));
  auto record = [&] {
    for (int i = 0; i < k; ++i) be->matmul(*ws[i % ws.size()], x.get<float>(), n, y.get<float>());
  };
  for (int i = 0; i < 3; ++i) be->run_graph(key, record);  // eager, capture, replay
  be->synchronize();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    be->run_graph(key, record);
    be->synchronize();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / k);
  }
  return median(t);
}

}  // namespace

int gpu_ops_bench_main(int argc, char** argv) {
  std::string device = "cuda:0", types_arg = "f16,bf16,q8_0,q4_0,q4_K,q6_K";
  int reps = 30;
  int64_t gemm_n = 512;
  double peak_gbs = 4800;
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("device", po::value(&device), "")(
      "reps", po::value(&reps), "")("peak-gbs", po::value(&peak_gbs), "")(
      "types", po::value(&types_arg), "")("gemm-n", po::value(&gemm_n), "");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scn bench gpu-ops: %s\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::printf("usage: scn bench gpu-ops [--device cuda:0] [--json] [--reps 30] [--peak-gbs 4800]\n"
                "                         [--types f16,bf16,q8_0,q4_0,q4_K,q6_K] [--gemm-n 512]\n"
                "--gemm-n 0 skips the cuBLAS (n > 8) cases.\n");
    return 0;
  }
  if (reps < 1 || peak_gbs <= 0 || gemm_n < 0) {
    std::fprintf(stderr, "scn bench gpu-ops: --reps must be >= 1, --peak-gbs > 0, --gemm-n >= 0\n");
    return 2;
  }
  std::vector<GgmlType> types;
  for (size_t pos = 0; pos <= types_arg.size();) {
    const size_t end = std::min(types_arg.find(',', pos), types_arg.size());
    const std::string name = types_arg.substr(pos, end - pos);
    pos = end + 1;
    if (name.empty()) continue;
    auto t = inference::parse_type_name(name);
    if (!t) {
      std::fprintf(stderr, "scn bench gpu-ops: unknown type '%s'\n", name.c_str());
      return 2;
    }
    types.push_back(*t);
  }
  auto made = inference::make_backend(device, 0);
  if (!made.is_ok()) {
    std::printf("no GPU: %s\n", made.status().to_string().c_str());
    return 1;
  }
  std::unique_ptr<Backend> be = std::move(*made);
  const bool json = vm.count("json") > 0;
  if (!json) std::printf("device       %s\n", be->describe().c_str());

  struct ShapeN { int64_t rows, cols, n; };
  const ShapeN cases[] = {{14336, 4096, 1},      {4096, 14336, 1},     {14336, 4096, 8},
                          {4096, 14336, 8},      {14336, 4096, gemm_n}, {4096, 14336, gemm_n}};
  std::vector<Result1> out;
  uint64_t key = 0x6770750000000000ULL;
  for (GgmlType t : types) {
    for (int shape = 0; shape < 2; ++shape) {
      const int64_t rows = cases[shape].rows, cols = cases[shape].cols;
      const auto host = random_weight(t, rows, cols, static_cast<uint64_t>(t) * 2 + shape);
      std::vector<std::unique_ptr<Weight>> ws;
      const size_t one = host.size();
      const size_t copies = std::clamp<size_t>(((size_t{256} << 20) + one - 1) / one, 1, 8);
      for (size_t c = 0; c < copies; ++c) {
        auto w = be->prepare_weight(t, rows, cols, host.data());
        if (!w.is_ok()) {
          std::fprintf(stderr, "scn bench gpu-ops: %s %ldx%ld: %s\n", std::string(inference::type_name(t)).c_str(),
                       static_cast<long>(rows), static_cast<long>(cols), w.status().to_string().c_str());
          return 1;
        }
        ws.push_back(std::move(*w));
      }
      for (const ShapeN& c : cases) {
        if (c.rows != rows || c.cols != cols || c.n == 0) continue;
        const double s = time_product(be.get(), ws, c.n, reps, ++key);
        if (s <= 0) {
          std::fprintf(stderr, "scn bench gpu-ops: cannot allocate the activations\n");
          return 1;
        }
        Result1 r{std::string(inference::type_name(t)), rows, cols, c.n, s * 1e6, 0, 0, 0};
        r.gbs = static_cast<double>(ws[0]->bytes()) / s / 1e9;
        r.pct = 100.0 * r.gbs / peak_gbs;
        r.tflops = 2.0 * rows * cols * c.n / s / 1e12;
        if (!json) {
          if (c.n <= 8)
            std::printf("%-6s %5ldx%-5ld n=%-3ld %9.1f us  %7.0f GB/s  %5.1f%% of %.0f GB/s\n", r.type.c_str(),
                        static_cast<long>(rows), static_cast<long>(cols), static_cast<long>(c.n), r.us,
                        r.gbs, r.pct, peak_gbs);
          else
            std::printf("%-6s %5ldx%-5ld n=%-3ld %9.1f us  %7.1f TFLOP/s (weight %.0f GB/s)\n", r.type.c_str(),
                        static_cast<long>(rows), static_cast<long>(cols), static_cast<long>(c.n), r.us,
                        r.tflops, r.gbs);
          std::fflush(stdout);
        }
        out.push_back(r);
      }
    }
  }
  if (json) {
    boost::json::array arr;
    for (const auto& r : out)
      arr.push_back({{"type", r.type}, {"rows", r.rows}, {"cols", r.cols}, {"n", r.n},
                     {"us", r.us}, {"gbs", r.gbs}, {"pct_peak", r.pct}, {"tflops", r.tflops}});
    boost::json::object o{{"device", be->describe()}, {"peak_gbs", peak_gbs}, {"results", arr}};
    std::cout << boost::json::serialize(o) << "\n";
  }
  return 0;
}

}  // namespace scn::bench
