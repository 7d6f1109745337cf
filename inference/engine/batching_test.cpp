// Engine v2: continuous batching, chunked prefill, prefix reuse and
// preemption never change greedy outputs (they equal the golden
// continuations alone and in batches of 1, 2, 8 and 32), and every KV block
// is returned when requests finish or are cancelled. The checks live in
// batching_test_util.h (shared with the GPU suite); here on the CPU.
#include <doctest/doctest.h>

#include "inference/backend/gpu.h"
#include "inference/engine/batching_test_util.h"

namespace scn::inference {
namespace {

using namespace batching_test;

TEST_CASE("batching: greedy outputs equal the golden ones alone and in batches of 1..32") {
  check_batches_equal_golden("cpu");
}

TEST_CASE("batching: a repeated prompt reuses its cached blocks") {
  check_repeated_prompt_reuses_blocks("cpu");
}

TEST_CASE("batching: n concurrent identical prompts (n > 1) share the prompt's blocks") {
  check_identical_prompts_share_blocks("cpu");
}

TEST_CASE("batching: cancelled requests free their blocks; the others are unaffected") {
  check_cancelled_requests_free_blocks("cpu");
}

TEST_CASE("engine device selection: cpu, auto, cuda without a GPU, unknown names") {
  const std::string model = testing::shared_path("models/stories260K.gguf");
  EngineOptions o;
  o.n_threads = 1;
  auto cpu = Engine::load(model, o);
  REQUIRE(cpu.is_ok());
  CHECK((*cpu)->device_description().rfind("cpu: 1 threads", 0) == 0);
  o.device = "tpu";
  CHECK(Engine::load(model, o).status().code() == Code::kInvalidArgument);
  o.device = "cuda:x";
  CHECK(Engine::load(model, o).status().code() == Code::kInvalidArgument);
  if (built_with_cuda() && list_gpus().is_ok()) return;  // a GPU: tests/gpu covers it
  o.device = "cuda";
  auto st = Engine::load(model, o).status();
  CHECK(st.code() == Code::kUnavailable);
  CHECK(st.message().find("cuda") != std::string::npos);
  // auto falls back to the CPU, and greedy outputs are the golden ones.
  o.device = "auto";
  auto e = Engine::load(model, o);
  REQUIRE_MESSAGE(e.is_ok(), e.status().to_string());
  CHECK((*e)->device_description().rfind("cpu", 0) == 0);
  run_concurrent(**e, 3, 4);
}

}  // namespace
}  // namespace scn::inference
