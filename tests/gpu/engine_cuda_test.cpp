// The engine on the CUDA backend (issue 8): stories260K's greedy tokens
// through the batched forward pass with the arg-max on the GPU equal the
// golden references, and the engine's batching checks (several concurrent
// requests, prefix reuse, preemption, chunked prefill, cancellation; outputs
// equal to single-request greedy outputs) pass with EngineOptions.device =
// "cuda" — the same checks the CPU runs in inference/engine/batching_test.cpp.
// Part of test_gpu, which runs only where a GPU is usable (gpu_main.cpp).
#include <doctest/doctest.h>

#include "inference/backend/backend.h"
#include "inference/engine/batching_test_util.h"
#include "inference/model/model_test_util.h"

namespace scn::inference {
namespace {

std::shared_ptr<Backend> cuda_backend() {
  auto be = make_backend("cuda", 0);
  REQUIRE_MESSAGE(be.is_ok(), be.status().to_string());
  return std::shared_ptr<Backend>(std::move(be).value());
}

TEST_CASE("engine on cuda: stories260K greedy tokens equal the golden ones") {
  using namespace model_test;
  const GoldenStory g = read_golden_story();
  const auto model = load_model(open_stories(), cuda_backend());
  MESSAGE("device: " << model->backend().describe());
  std::vector<float> first;
  const std::vector<int32_t> story = greedy_batched(*model, {1}, 200, 64, &first);
  CHECK(story == std::vector<int32_t>(g.tokens.begin() + 1, g.tokens.end()));
  CHECK(argmax(first.data(), 512) == g.pos[0].argmax);
  CHECK(std::fabs(first[static_cast<size_t>(g.pos[0].argmax)] - g.pos[0].max_logit) < 1e-3);
  for (int i = 0; i < 4; ++i) CHECK(std::fabs(first[static_cast<size_t>(i)] - g.pos[0].first4[i]) < 1e-3);
  for (const GoldenPrompt& p : read_golden_prompts()) {
    INFO("prompt '" << p.prompt << "'");
    CHECK(greedy_batched(*model, p.tokens, 48) == p.greedy);     // prompt in one chunk
    CHECK(greedy_batched(*model, p.tokens, 48, 3) == p.greedy);  // prompt in chunks of 3
  }
}

TEST_CASE("engine on cuda: batches of 1..32, prefix reuse, chunked prefill, preemption") {
  batching_test::check_batches_equal_golden("cuda");
}

TEST_CASE("engine on cuda: a repeated prompt reuses its cached blocks") {
  batching_test::check_repeated_prompt_reuses_blocks("cuda");
}

TEST_CASE("engine on cuda: concurrent identical prompts share the prompt's blocks") {
  batching_test::check_identical_prompts_share_blocks("cuda");
}

TEST_CASE("engine on cuda: cancelled requests free their blocks") {
  batching_test::check_cancelled_requests_free_blocks("cuda");
}

}  // namespace
}  // namespace scn::inference
