// libFuzzer targets (issue 9, "Bad input"): one file tests/fuzz/<name>_fuzz.cpp
// per parser, each defining scn::fuzz::<name>_one_input(data, size), the
// body of its LLVMFuzzerTestOneInput.
//
// Contract:
//  - An entry function feeds its bytes to the parser(s) it names and checks
//    what the parser's contract promises (no crash, results in range); a
//    broken promise aborts (a crash for libFuzzer, a failure for the replay
//    test). It returns 0.
//  - Built two ways: with clang -fsanitize=fuzzer,address,undefined
//    (SCN_FUZZ=ON, scripts/fuzz.sh), where SCN_FUZZ_ENTRY also defines
//    LLVMFuzzerTestOneInput; and by the normal build (SCN_FUZZ_REPLAY), where
//    tests/fuzz/corpus_replay_test.cpp runs every file of
//    tests/fuzz/corpus/<name>/ through the same function.
//  - Targets that need the real models read them from SCN_SHARED_DIR (else
//    the directory compiled in as SCN_FUZZ_SHARED_DIR), once per process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace scn::fuzz {

int gguf_one_input(const uint8_t* data, size_t size);
int tokenizer_one_input(const uint8_t* data, size_t size);
int chat_template_one_input(const uint8_t* data, size_t size);
int openai_request_one_input(const uint8_t* data, size_t size);
int gateway_request_one_input(const uint8_t* data, size_t size);
int rest_body_one_input(const uint8_t* data, size_t size);
int agent_protocol_one_input(const uint8_t* data, size_t size);

// <shared dir>/<relative>
inline std::string shared_file(const std::string& relative) {
  const char* dir = std::getenv("SCN_SHARED_DIR");
#ifdef SCN_FUZZ_SHARED_DIR
  if (dir == nullptr || *dir == '\0') dir = SCN_FUZZ_SHARED_DIR;
#endif
  if (dir == nullptr || *dir == '\0') dir = "../shared";
  return std::string(dir) + "/" + relative;
}

// A broken contract: report and abort.
[[noreturn]] inline void fuzz_fail(const char* target, const std::string& what) {
  std::fprintf(stderr, "fuzz %s: %s\n", target, what.c_str());
  std::abort();
}

}  // namespace scn::fuzz

#ifdef SCN_FUZZ_REPLAY
#define SCN_FUZZ_ENTRY(name)
#else
#define SCN_FUZZ_ENTRY(name)                                                   \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {   \
    return scn::fuzz::name##_one_input(data, size);                           \
  }
#endif
