// make_backend(): device names, and honest answers on machines without a GPU.
#include <doctest/doctest.h>

#include <string>

#include "inference/backend/backend.h"
#include "inference/backend/gpu.h"

namespace scn::inference {
namespace {

TEST_CASE("make_backend: cpu") {
  auto be = make_backend("cpu", 1);
  REQUIRE(be.is_ok());
  CHECK(be.value()->name() == "cpu");
  CHECK(be.value()->n_threads() == 1);
}

TEST_CASE("make_backend: unknown names are invalid arguments") {
  for (const char* name : {"", "gpu", "CPU", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "cuda0",
                           "metal", "auto:0"}) {
    CAPTURE(name);
    auto be = make_backend(name, 1);
    REQUIRE(!be.is_ok());
    CHECK(be.status().code() == Code::kInvalidArgument);
    CHECK(!be.status().message().empty());
  }
}

TEST_CASE("make_backend: a GPU that is not there is unavailable, with the reason") {
  auto be = make_backend("cuda:99", 1);
  REQUIRE(!be.is_ok());
  CHECK(be.status().code() == Code::kUnavailable);
  CHECK(!be.status().message().empty());

  const auto gpus = list_gpus();
  if (!built_with_cuda()) {
    REQUIRE(!gpus.is_ok());
    CHECK(gpus.status().message().find("SCN_CUDA=OFF") != std::string::npos);
  }
  if (!gpus.is_ok()) {
    CHECK(gpus.status().code() == Code::kUnavailable);
    for (const char* name : {"cuda", "cuda:0"}) {
      CAPTURE(name);
      auto gpu = make_backend(name, 1);
      REQUIRE(!gpu.is_ok());
      CHECK(gpu.status().code() == Code::kUnavailable);
      CHECK(gpu.status().message() == gpus.status().message());
    }
  } else {
    CHECK(!gpus.value().empty());
    auto gpu = make_backend("cuda", 1);
    REQUIRE(gpu.is_ok());
    CHECK(gpu.value()->name() == "cuda");
  }
}

TEST_CASE("make_backend: auto takes the GPU when there is one, else the CPU") {
  auto be = make_backend("auto", 1);
  REQUIRE(be.is_ok());
  CHECK(be.value()->name() == (list_gpus().is_ok() ? "cuda" : "cpu"));
}

}  // namespace
}  // namespace scn::inference
