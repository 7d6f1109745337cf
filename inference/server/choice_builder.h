// Assembles one choice of an answer from the engine's token events: its text
// (through TextStream: valid UTF-8, stop strings) and its logprob entries.
//
// Contract:
//  - on_token() takes each generated token in order and returns the delta
//    that may be sent now: new text and the logprob entries of the tokens
//    whose text has started to appear. finish() returns the rest.
//  - A logprob entry is released once the first byte of its token's text has
//    been released. At finish(), the remaining entries are released, except,
//    after a stop string matched, those whose text starts at or after the
//    end of the answer (the tokens that made up the stop string).
//  - After stopped() the caller should cancel generation; later tokens are
//    ignored.
//  - End-of-generation tokens must not be passed (the engine does not emit
//    them); control tokens pass with whatever text `piece` gives them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "inference/engine/engine.h"
#include "inference/server/openai_api.h"
#include "inference/server/text_stream.h"

namespace scn::inference {

// The raw bytes of a token's text (Vocab::token_to_piece).
using PieceFn = std::function<std::string(int32_t token)>;

struct ChoiceDelta {
  std::string text;
  std::vector<LogprobEntry> logprobs;
  bool empty() const { return text.empty() && logprobs.empty(); }
};

class ChoiceBuilder {
 public:
  ChoiceBuilder(std::vector<std::string> stop, PieceFn piece, bool want_logprobs);

  ChoiceDelta on_token(const TokenEvent& ev);
  ChoiceDelta finish();

  bool stopped() const { return stream_.stopped(); }
  // All text released so far.
  const std::string& text() const { return text_; }
  // All logprob entries released so far.
  const std::vector<LogprobEntry>& logprobs() const { return released_; }

 private:
  void take(ChoiceDelta& d, std::string text, bool at_end);

  TextStream stream_;
  PieceFn piece_;
  bool want_logprobs_;
  std::string text_;
  std::vector<LogprobEntry> pending_;   // tokens whose text is not out yet
  std::vector<LogprobEntry> released_;
};

}  // namespace scn::inference
