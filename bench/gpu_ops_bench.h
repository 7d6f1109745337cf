// `scn bench gpu-ops`: micro-benchmark of the weight products of a GPU
// backend (backend/cuda): matrix-vector (n = 1 and 8) on Llama-3.1-8B-sized
// matrices (14336x4096 and 4096x14336) for F16, BF16, Q8_0, Q4_0, Q4_K and
// Q6_K — µs per call, GB/s of weight read and the fraction of the GPU's
// memory bandwidth (--peak-gbs, 4800 for an H200) — and the cuBLAS path at
// n = 512 (TFLOP/s).
//
// Contract: gpu_ops_bench_main(argc, argv) takes argv[0] = "gpu-ops" and the
// flags [--device cuda:0] [--json] [--reps 30] [--peak-gbs 4800]
// [--types q8_0,bf16,...] [--gemm-n 512] (0: no cuBLAS cases); it prints
// a table (or one JSON object) and returns 0, 2 for a usage error, or 1
// after printing "no GPU: <reason>" when the device cannot be had.
// Timing: each measured call is one replay of a graph (Backend::run_graph)
// of k back-to-back products that rotate over copies of the weight totalling
// >= 256 MiB (so the 50-60 MB L2 of an H100/H200 cannot hold them), host clock around replay + synchronize, median of --reps.
#pragma once

namespace scn::bench {

int gpu_ops_bench_main(int argc, char** argv);

}  // namespace scn::bench
