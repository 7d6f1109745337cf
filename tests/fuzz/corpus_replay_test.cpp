// The fuzz targets' seed corpora replayed by the normal build (no clang
// needed): every file of tests/fuzz/corpus/<name>/ goes through the same
// entry function as under libFuzzer (tests/fuzz/fuzz_targets.h), so a
// crash found once (its input added to the corpus) stays fixed. A broken
// contract aborts the test.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_targets.h"

namespace scn::fuzz {
namespace {

namespace fs = std::filesystem;

fs::path corpus_root() {
  const char* src = std::getenv("SCN_SOURCE_DIR");
  return fs::path(src != nullptr && *src != '\0' ? src : ".") / "tests" / "fuzz" / "corpus";
}

struct Target {
  const char* name;
  int (*entry)(const uint8_t*, size_t);
};

const Target kTargets[] = {
    {"gguf", gguf_one_input},
    {"tokenizer", tokenizer_one_input},
    {"chat_template", chat_template_one_input},
    {"openai_request", openai_request_one_input},
    {"gateway_request", gateway_request_one_input},
    {"rest_body", rest_body_one_input},
    {"agent_protocol", agent_protocol_one_input},
};

TEST_CASE("fuzz corpora replay through the fuzz targets' entry functions") {
  for (const Target& t : kTargets) {
    CAPTURE(t.name);
    const fs::path dir = corpus_root() / t.name;
    REQUIRE_MESSAGE(fs::is_directory(dir), dir.string());
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
    CHECK_MESSAGE(files.size() >= 3, "seed corpus too small: ", dir.string());
    for (const auto& f : files) {
      CAPTURE(f.string());
      std::ifstream in(f, std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      CHECK(t.entry(bytes.data(), bytes.size()) == 0);
    }
    // The empty input too.
    CHECK(t.entry(nullptr, 0) == 0);
  }
}

}  // namespace
}  // namespace scn::fuzz
