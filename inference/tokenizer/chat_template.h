// Chat templates: turning a conversation into the prompt text a model was
// trained on, for the common template families (no Jinja interpreter).
//
// Contract:
//  - detect() picks the family from the template source (tokenizer.chat_template)
//    by its markers, in llama.cpp's llm_chat_detect_template order:
//      <|im_start|>                      chatml (Qwen); "qwen3" when the source
//                                        handles <think> reasoning blocks
//      [INST]                            llama2 (<<SYS>> system block)
//      <|assistant|> and <|end|>         phi3
//      <start_of_turn>                   gemma
//      <|start_header_id|>               llama3
//      <｜User｜> and <｜Assistant｜>      deepseek-r1 when the source has
//                                        <think>, else deepseek3
//    Without a source, or with one that matches none, the vocabulary's
//    tokens decide the same way (<|im_start|>, <|start_header_id|>, ...),
//    and failing that the "plain" fallback is used: one "role: content\n"
//    line per message and, with a generation prompt, a final "assistant:".
//    (stories260K has no template and no chat tokens: plain.)
//  - apply() renders exactly what the real templates render for
//    system/user/assistant text messages, except the leading {{ bos_token }}
//    many of them write: the tokenizer adds BOS (tokenize with
//    add_special=true and parse_special=true), as llama.cpp does. Details:
//      chatml: a default system prompt written literally in the source (Qwen2:
//        "You are a helpful assistant.", Qwen2.5: "You are Qwen, created by
//        Alibaba Cloud. ...") is used when the first message is not system.
//      qwen3: assistant turns drop their "<think>...</think>" part, except the
//        final turn after the last user message, which is written with a
//        "<think>\n...\n</think>\n\n" block as Qwen3's template does.
//      llama3: contents trimmed; no dated system header (3.1+ templates add one).
//      deepseek-r1 / deepseek3: system prompts first (joined by "\n\n"); when
//        the source splits on </think>, assistant turns without reasoning;
//        generation prompt "<｜Assistant｜><think>\n" (r1) or "<｜Assistant｜>".
//        Templates tracking is_last_user (R1-0528 style) write <｜Assistant｜>
//        right after each user turn and none again for the generation prompt.
//      llama2 and gemma: roles must alternate user/assistant after an optional
//        system message (else kInvalidArgument, like the templates' raise_exception);
//        gemma puts the system text + "\n\n" at the start of the first user turn.
//  - Roles other than system, user and assistant are kInvalidArgument.
//  - A ChatTemplate is a small immutable value; apply() is thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "inference/tokenizer/vocab.h"

namespace scn::inference {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

class ChatTemplate {
 public:
  enum class Family { kPlain, kChatml, kQwen3, kLlama3, kDeepseekR1, kDeepseek3, kLlama2, kGemma, kPhi3 };

  static ChatTemplate detect(const std::optional<std::string>& jinja_source, const Vocab& vocab);
  // A family chosen by name ("chatml", "llama3", ... as name() spells them).
  static std::optional<ChatTemplate> from_name(std::string_view name);

  Result<std::string> apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  std::string_view name() const;
  Family family() const { return family_; }
  // The chatml default system prompt taken from the source ("" if none).
  const std::string& default_system() const { return default_system_; }

 private:
  explicit ChatTemplate(Family f) : family_(f) {}
  Family family_;
  std::string default_system_;
  std::string eos_text_ = "</s>";  // llama2: written after each assistant turn
  std::string bos_text_ = "<s>";   // llama2: written before each later user turn
  bool strip_reasoning_ = false;      // deepseek: assistant turns keep what follows </think>
  bool user_opens_assistant_ = false; // deepseek (is_last_user variant): '<｜User｜>' + c + '<｜Assistant｜>'
};

}  // namespace scn::inference
