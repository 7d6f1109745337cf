#include "bench/infer_bench.h"
#include "inference/backend/gpu.h"

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <boost/json.hpp>

#include "bench/membw_bench.h"
#include "inference/gguf/gguf.h"
#include "tests/testing.h"

namespace scn::bench {
namespace {

InferBenchOptions tiny() {
  InferBenchOptions o;
  o.model_path = testing::shared_path("models/stories260K.gguf");
  o.threads = 2;
  o.prompt_tokens = 32;
  o.gen_tokens = 8;
  o.reps = 2;
  o.membw_bytes = size_t{16} << 20;
  return o;
}

// Runs a shell command and returns its stdout and exit status.
std::pair<std::string, int> run_command(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

}  // namespace

TEST_CASE("bench infer on stories260K reports every figure") {
  auto r = run_infer_bench(tiny());
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  CHECK(r->arch == "llama");
  CHECK(r->n_vocab == 512);
  CHECK(r->n_layer == 5);
  CHECK(r->params > 200000);
  CHECK(r->params < 400000);
  REQUIRE(r->types.size() == 1);
  CHECK(r->types[0].type == "f32");
  CHECK(r->threads == 2);
  // Every 2-D tensor but the embedding matrix is a matmul weight read once
  // per token (stories260K has its own output.weight), plus one embedding row.
  auto file = inference::GgufFile::open(tiny().model_path);
  REQUIRE(file.is_ok());
  uint64_t want = 0;
  for (const auto& t : (*file)->tensors()) {
    if (t.dims.size() != 2) continue;
    want += t.name == "token_embd.weight" ? t.nbytes / 512 : t.nbytes;
  }
  CHECK(r->weight_bytes_per_token == want);
  CHECK(r->pp_tok_s > 0);
  CHECK(r->tg_tok_s > 0);
  CHECK(r->membw_gbs > 0);
  CHECK(r->decode_bw_fraction > 0);
  // One probe after each decode test; the fraction is the mean of each
  // repetition's decode against its own probe.
  REQUIRE(r->membw_gbs_per_rep.size() == 2);
  CHECK(r->membw_gbs == doctest::Approx((r->membw_gbs_per_rep[0] + r->membw_gbs_per_rep[1]) / 2));
  CHECK(r->decode_bw_fraction > 0);

  const std::string table = format_infer_report(*r);
  CHECK_MESSAGE(table.find("mean of the probes after each decode test") != std::string::npos, table);
  for (const char* field : {"arch", "llama", "f32", "bytes/token", "threads", "membw", "pp32",
                            "tg8", "% of membw"})
    CHECK_MESSAGE(table.find(field) != std::string::npos, field);

  const auto j = boost::json::parse(infer_report_json(*r)).as_object();
  for (const char* key : {"arch", "params", "types", "weight_bytes_per_token", "threads",
                          "pp_tok_s", "tg_tok_s", "membw_gbs", "membw_gbs_per_rep", "decode_bw_fraction"})
    CHECK_MESSAGE(j.contains(key), key);
  CHECK(j.at("tg_tok_s").to_number<double>() == doctest::Approx(r->tg_tok_s));
}

TEST_CASE("bench infer rejects bad sizes and files") {
  auto o = tiny();
  o.prompt_tokens = 0;
  CHECK(run_infer_bench(o).status().code() == Code::kInvalidArgument);
  o = tiny();
  o.reps = 0;
  CHECK(run_infer_bench(o).status().code() == Code::kInvalidArgument);
  o = tiny();
  o.depth = -1;
  CHECK(run_infer_bench(o).status().code() == Code::kInvalidArgument);
  o = tiny();
  o.model_path = "/nonexistent.gguf";
  CHECK_FALSE(run_infer_bench(o).is_ok());
}

// Without a decode test the bandwidth is probed once, after the prompts.
TEST_CASE("bench infer without a decode test probes the bandwidth once") {
  auto o = tiny();
  o.gen_tokens = 0;
  auto r = run_infer_bench(o);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  CHECK(r->membw_gbs_per_rep.size() == 1);
  CHECK(r->membw_gbs > 0);
  CHECK(r->decode_bw_fraction == 0);
}

// --depth: the decode test runs after that many tokens of context (as
// llama-bench's "tg N @ dD"), even past the prompt's length.
TEST_CASE("bench infer decodes at a depth of context") {
  auto o = tiny();
  o.depth = 3 * o.prompt_tokens;
  auto r = run_infer_bench(o);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  CHECK(r->depth == o.depth);
  CHECK(r->tg_tok_s > 0);
  const std::string table = format_infer_report(*r);
  CHECK_MESSAGE(table.find("tg8 @ d96") != std::string::npos, table);
  CHECK(boost::json::parse(infer_report_json(*r)).as_object().at("depth").as_int64() == o.depth);

  // The batched forward pass (the GPU path; the CPU backend without a GPU).
  if (inference::built_with_cuda() && inference::list_gpus().is_ok()) return;
  o.device = "auto";
  o.batch = 10;
  auto d = run_infer_bench(o);
  REQUIRE_MESSAGE(d.is_ok(), d.status().to_string());
  CHECK(d->tg_tok_s > 0);
  CHECK(format_infer_report(*d).find("tg8 @ d96") != std::string::npos);
}

// A device other than "cpu" runs through BatchContext (the GPU path); "auto"
// without a usable GPU is the CPU backend on that same path, so CI covers it.
TEST_CASE("bench infer through the batched forward pass (--device auto, --batch)") {
  if (inference::built_with_cuda() && inference::list_gpus().is_ok()) return;  // a real GPU
  auto o = tiny();
  o.device = "auto";
  o.batch = 10;  // the 32-token prompt in chunks of 10, 10, 10, 2
  o.peak_gbs = 100;
  auto r = run_infer_bench(o);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  CHECK(r->device == "auto");
  CHECK(r->device_description.rfind("cpu", 0) == 0);
  CHECK(r->batch == 10);
  CHECK(r->pp_tok_s > 0);
  CHECK(r->tg_tok_s > 0);
  CHECK(r->membw_is_peak);
  CHECK(r->membw_gbs == 100);
  CHECK(r->decode_bw_fraction ==
        doctest::Approx(static_cast<double>(r->weight_bytes_per_token) * r->tg_tok_s / 100e9));
  const std::string table = format_infer_report(*r);
  for (const char* field : {"device", "chunks of 10", "peak memory bandwidth", "tg8", "pp32"})
    CHECK_MESSAGE(table.find(field) != std::string::npos, field);
  const auto j = boost::json::parse(infer_report_json(*r)).as_object();
  CHECK(j.at("device_description").as_string().size() > 0);

  // Without a GPU, cuda is an error naming the reason.
  o.device = "cuda";
  CHECK(run_infer_bench(o).status().code() == Code::kUnavailable);
  o.device = "auto";
  o.batch = 0;
  CHECK(run_infer_bench(o).status().code() == Code::kInvalidArgument);
}

TEST_CASE("membw probe gives a plausible figure") {
  const double gbs = measure_membw_gbs(1, size_t{32} << 20);
  CHECK(gbs > 0.1);
  CHECK(gbs < 10000);
}

TEST_CASE("scn bench runs from the command line") {
  const std::string scn = testing::scn_binary();
  if (!std::filesystem::exists(scn)) {
    REQUIRE_MESSAGE(!testing::in_ci(), "the scn binary is missing: " << scn);
    MESSAGE("scn is not built (" << scn << "); command-line checks skipped");
    return;
  }
  const std::string model = testing::shared_path("models/stories260K.gguf");
  {
    auto [out, rc] = run_command(scn + " bench infer --model " + model +
                                 " --threads 1 --prompt-tokens 16 --gen-tokens 4 --reps 1"
                                 " --mib 8 --json 2>&1");
    REQUIRE_MESSAGE(rc == 0, out);
    const auto j = boost::json::parse(out).as_object();
    CHECK(j.at("prompt_tokens").as_int64() == 16);
    CHECK(j.at("gen_tokens").as_int64() == 4);
    CHECK(j.at("tg_tok_s").to_number<double>() > 0);
  }
  {
    auto [out, rc] = run_command(scn + " bench membw --threads 1 --mib 8 2>&1");
    CHECK_MESSAGE(rc == 0, out);
    CHECK(out.find("GB/s") != std::string::npos);
  }
  {
    auto [out, rc] = run_command(scn + " bench infer --prompt-tokens 5 2>&1");  // no --model
    CHECK(rc == 2);
    CHECK(out.find("usage") != std::string::npos);
  }
  {
    auto [out, rc] = run_command(scn + " bench nosuch 2>&1");
    CHECK(rc == 2);
  }
}

}  // namespace scn::bench
