// Fuzz target: the GGUF reader (inference/gguf) over arbitrary bytes, and,
// for files it accepts, the vocabulary loader (tokenizer.ggml.* metadata).
// Seeds: truncated headers of the real models (tests/fuzz/corpus/gguf/).
#include <string>

#include "inference/gguf/gguf.h"
#include "inference/tokenizer/vocab.h"
#include "tests/fuzz/fuzz_targets.h"

namespace scn::fuzz {

int gguf_one_input(const uint8_t* data, size_t size) {
  using namespace scn::inference;
  auto file = GgufFile::from_memory(data, size);
  if (!file.is_ok()) return 0;
  const GgufFile& f = **file;
  // Every accessor is safe after a successful open; tensor data lies inside.
  size_t n = 0;
  for (const auto& [key, value] : f.metadata()) {
    n += key.size();
    if (const std::string* s = value.as_string()) n += s->size();
    if (const GgufArray* a = value.as_array()) n += a->size();
    (void)value.as_u64();
    (void)value.as_f64();
    if (f.find(key) == nullptr) fuzz_fail("gguf", "find() misses key " + key);
  }
  for (const auto& t : f.tensors()) {
    if (t.data == nullptr || t.data < data || t.data + t.nbytes > data + size)
      fuzz_fail("gguf", "tensor '" + t.name + "' data outside the file");
    if (t.nbytes > 0) n += t.data[0] + t.data[t.nbytes - 1];
    (void)t.n_elements();
  }
  (void)f.get_string("general.architecture");
  (void)f.get_u64("general.alignment");
  auto vocab = Vocab::from_gguf(f);
  if (vocab.is_ok()) {
    auto ids = (*vocab)->tokenize("Hello <s> world", true, true);
    for (int32_t id : ids)
      if (id < 0 || id >= (*vocab)->n_tokens()) fuzz_fail("gguf", "token id out of range");
    (void)(*vocab)->detokenize(ids);
  }
  return static_cast<int>(n & 0);
}

}  // namespace scn::fuzz

SCN_FUZZ_ENTRY(gguf)
