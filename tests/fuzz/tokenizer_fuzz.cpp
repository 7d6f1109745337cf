// Fuzz target: the tokenizers (inference/tokenizer) over the real
// vocabularies: SentencePiece (stories260K.gguf) and byte-level BPE (the
// Qwen tokenizer.json imported as a GGUF). The first byte picks the vocab
// and the flags; the rest is the text. Checks: every id is in the
// vocabulary, detokenize never crashes, token_to_piece takes any id, and
// valid UTF-8 without special-token text round-trips through BPE.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.h"
#include "inference/gguf/gguf.h"
#include "inference/tokenizer/hf_import.h"
#include "inference/tokenizer/vocab.h"
#include "tests/fuzz/fuzz_targets.h"

namespace scn::fuzz {
namespace {
using namespace scn::inference;

struct Loaded {
  std::vector<uint8_t> bytes;  // the GGUF the vocab was read from (kept alive)
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Vocab> vocab;
};

std::unique_ptr<Loaded> load_from(std::vector<uint8_t> bytes) {
  auto l = std::make_unique<Loaded>();
  l->bytes = std::move(bytes);
  auto f = GgufFile::from_memory(l->bytes.data(), l->bytes.size());
  if (!f.is_ok()) fuzz_fail("tokenizer", "cannot read vocab GGUF: " + f.status().to_string());
  l->file = std::move(f).value();
  auto v = Vocab::from_gguf(*l->file);
  if (!v.is_ok()) fuzz_fail("tokenizer", "cannot load vocab: " + v.status().to_string());
  l->vocab = std::move(v).value();
  return l;
}

const Vocab& spm() {
  static std::unique_ptr<Loaded> l = [] {
    auto f = GgufFile::open(shared_file("models/stories260K.gguf"));
    if (!f.is_ok()) fuzz_fail("tokenizer", "models/stories260K.gguf: " + f.status().to_string());
    auto l = std::make_unique<Loaded>();
    l->file = std::move(f).value();
    auto v = Vocab::from_gguf(*l->file);
    if (!v.is_ok()) fuzz_fail("tokenizer", v.status().to_string());
    l->vocab = std::move(v).value();
    return l;
  }();
  return *l->vocab;
}

const Vocab& bpe() {
  static std::unique_ptr<Loaded> l = [] {
    GgufWriter w;
    w.set("general.architecture", GgufValue::str("qwen2"));
    Status st = import_hf_tokenizer(shared_file("tokenizers/qwen/tokenizer.json"), w);
    if (!st.is_ok()) fuzz_fail("tokenizer", "tokenizers/qwen/tokenizer.json: " + st.to_string());
    auto bytes = w.serialize();
    if (!bytes.is_ok()) fuzz_fail("tokenizer", bytes.status().to_string());
    return load_from(std::vector<uint8_t>(bytes->begin(), bytes->end()));
  }();
  return *l->vocab;
}

}  // namespace

int tokenizer_one_input(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Vocab& v = (mode & 1) ? bpe() : spm();
  const bool add_special = mode & 2, parse_special = mode & 4, render_special = mode & 8;
  std::vector<int32_t> ids = v.tokenize(text, add_special, parse_special);
  for (int32_t id : ids)
    if (id < 0 || id >= v.n_tokens()) fuzz_fail("tokenizer", "id out of range: " + std::to_string(id));
  const std::string back = v.detokenize(ids, render_special);
  // BPE round trip (vocab.h): valid UTF-8 without special-token text.
  if ((mode & 1) && !add_special && !parse_special && !render_special &&
      common::valid_utf8(text) && back != text)
    fuzz_fail("tokenizer", "BPE round trip changed the text");
  // Any id (also out of range) is tolerated.
  for (size_t i = 1; i + 4 <= size && i < 64; i += 4) {
    int32_t id = static_cast<int32_t>(data[i] | data[i + 1] << 8 | data[i + 2] << 16 |
                                      static_cast<uint32_t>(data[i + 3]) << 24);
    (void)v.token_to_piece(id, render_special);
    (void)v.detokenize(std::vector<int32_t>{id, id % 1000});
  }
  return 0;
}

}  // namespace scn::fuzz

SCN_FUZZ_ENTRY(tokenizer)
