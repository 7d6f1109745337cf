// `scn gguf ...` run as a process: help, info, synth, quantize, import-tokenizer.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "inference/gguf/gguf.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

struct Run {
  int code = -1;
  std::string out;  // stdout and stderr
};

Run scn(const std::string& args) {
  Run r;
  const std::string cmd = testing::scn_binary() + " " + args + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

bool has(const Run& r, const std::string& s) { return r.out.find(s) != std::string::npos; }

TEST_CASE("scn gguf: help and usage errors") {
  Run r = scn("gguf --help");
  CHECK(r.code == 0);
  CHECK(has(r, "import-tokenizer"));
  for (const char* sub : {"info", "quantize", "synth", "import-tokenizer"}) {
    CAPTURE(sub);
    r = scn(std::string("gguf ") + sub + " --help");
    CHECK(r.code == 0);
    CHECK(has(r, std::string("usage: scn gguf ") + sub));
  }
  CHECK(has(scn("gguf synth --help"), "qwen2.5-0.5b"));
  CHECK(scn("gguf").code == 2);
  CHECK(scn("gguf frobnicate").code == 2);
  CHECK(scn("gguf info").code == 2);                        // missing FILE
  CHECK(scn("gguf info a b").code == 2);                    // too many
  CHECK(scn("gguf quantize in.gguf").code == 2);            // missing OUT TYPE
  CHECK(scn("gguf synth --like nope x.gguf").code == 2);    // unknown model
  CHECK(scn("gguf synth x.gguf").code == 2);                // --like missing
  r = scn("gguf info /nonexistent.gguf");
  CHECK(r.code == 1);
  CHECK(has(r, "cannot open"));
}

TEST_CASE("scn gguf info stories260K") {
  Run r = scn("gguf info " + testing::shared_path("models/stories260K.gguf"));
  REQUIRE(r.code == 0);
  CHECK(has(r, "GGUF version 3, alignment 32"));
  CHECK(has(r, "llama.block_count"));
  CHECK(has(r, "(512 items)"));  // the token array, abbreviated
  CHECK(!has(r, "<0x7F>"));      // ... to its first items
  CHECK(has(r, "blk.4.ffn_down.weight"));
  CHECK(has(r, "172 x 64"));
  CHECK(has(r, "totals: 48 tensors"));
  r = scn("gguf info --full " + testing::shared_path("models/stories260K.gguf"));
  CHECK(has(r, "<0x7F>"));
}

TEST_CASE("scn gguf synth, quantize, info") {
  testing::TempDir dir;
  Run r = scn("gguf synth --like test-tiny-qwen2 --type q4_0 --seed 5 " + dir.file("m.gguf"));
  REQUIRE_MESSAGE(r.code == 0, r.out);
  auto f = GgufFile::open(dir.file("m.gguf"));
  REQUIRE(f.is_ok());
  CHECK((*f)->find_tensor("blk.0.attn_q.weight")->type == GgmlType::Q4_0);
  r = scn("gguf info " + dir.file("m.gguf"));
  CHECK(r.code == 0);
  CHECK(has(r, "synthetic test-tiny-qwen2 (random weights)"));

  r = scn("gguf quantize " + testing::shared_path("models/stories260K.gguf") + " " + dir.file("q.gguf") + " Q8_0");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  CHECK(has(r, "blk.0.ffn_down.weight: f32 (kept f32"));
  CHECK(has(r, "32 tensors converted, 16 kept"));
  auto q = GgufFile::open(dir.file("q.gguf"));
  REQUIRE(q.is_ok());
  CHECK((*q)->find_tensor("token_embd.weight")->type == GgmlType::Q8_0);
  r = scn("gguf quantize " + testing::shared_path("models/stories260K.gguf") + " " + dir.file("q.gguf") + " q3_K");
  CHECK(r.code == 1);
  CHECK(has(r, "unknown quantization type"));
}

TEST_CASE("scn gguf import-tokenizer") {
  testing::TempDir dir;
  Run r = scn("gguf import-tokenizer " + testing::shared_path("tokenizers/qwen/tokenizer.json") + " " +
              dir.file("v.gguf") + " --arch qwen2");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  auto f = GgufFile::open(dir.file("v.gguf"));
  REQUIRE(f.is_ok());
  CHECK((*f)->get_string("tokenizer.ggml.model") == "gpt2");
  CHECK((*f)->get_string("general.architecture") == "qwen2");
  CHECK((*f)->get_array("tokenizer.ggml.tokens")->size() > 150000);
  CHECK(scn("gguf import-tokenizer /nonexistent.json " + dir.file("w.gguf")).code == 1);
}

}  // namespace
}  // namespace scn::inference
