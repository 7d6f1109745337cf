// Import of a Hugging Face tokenizer.json (byte-level BPE) into GGUF
// tokenizer.ggml.* metadata, as llama.cpp's convert_hf_to_gguf.py writes it.
//
// Contract:
//  - Accepts model.type "BPE" with a byte-level pre-tokenizer or decoder and
//    no byte_fallback; anything else is kUnprocessable. Unreadable files are
//    kIoError, malformed JSON or inconsistent content kCorruptData.
//  - Tokens: model.vocab plus added_tokens by id; ids must be unique (and
//    texts too), gaps are filled with "[PAD<id>]" tokens of type unused.
//    Types: added tokens marked special, or that look special (<|...|>,
//    <｜...｜>, <pad>, <mask>), are control; other added tokens user-defined;
//    the rest normal.
//  - Merges in either "a b" or ["a", "b"] form, written as "a b".
//  - tokenizer.ggml.pre is chosen from the pre_tokenizer's Split regex(es):
//    qwen2 (\p{N}), llama-bpe (\p{N}{1,3}), deepseek-llm, deepseek-coder; a
//    plain ByteLevel pre-tokenizer with use_regex is gpt-2. Others are
//    kUnprocessable. The NFC normalizer some files declare is not applied
//    (neither does llama.cpp).
//  - tokenizer_config.json next to tokenizer.json, when present, gives
//    bos/eos/unk/pad (token text -> id), add_bos_token/add_eos_token, and
//    chat_template (a string, or the "default" entry of a list) written as
//    tokenizer.chat_template.
//  - Writes only tokenizer.* keys into `out` (sets or replaces them).
#pragma once

#include <string>

#include "common/status.h"
#include "inference/gguf/gguf.h"

namespace scn::inference {

Status import_hf_tokenizer(const std::string& tokenizer_json_path, GgufWriter& out);

}  // namespace scn::inference
