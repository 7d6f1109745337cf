// Fuzz target: the chat-template renderer (inference/tokenizer/chat_template).
// Input: a template source, then messages, separated by NUL bytes; each
// message is "<role byte><content>". The template is detected from the
// source (against the stories260K vocabulary) and, by the first byte, also
// every named family is applied. apply() must never crash and returns text
// or kInvalidArgument only.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inference/gguf/gguf.h"
#include "inference/tokenizer/chat_template.h"
#include "inference/tokenizer/vocab.h"
#include "tests/fuzz/fuzz_targets.h"

namespace scn::fuzz {
namespace {
using namespace scn::inference;

const Vocab& vocab() {
  static std::unique_ptr<GgufFile> file = [] {
    auto f = GgufFile::open(shared_file("models/stories260K.gguf"));
    if (!f.is_ok()) fuzz_fail("chat_template", f.status().to_string());
    return std::move(f).value();
  }();
  static std::unique_ptr<Vocab> v = [] {
    auto r = Vocab::from_gguf(*file);
    if (!r.is_ok()) fuzz_fail("chat_template", r.status().to_string());
    return std::move(r).value();
  }();
  return *v;
}

void check(const ChatTemplate& t, const std::vector<ChatMessage>& messages, bool gen) {
  auto r = t.apply(messages, gen);
  if (!r.is_ok() && r.status().code() != Code::kInvalidArgument)
    fuzz_fail("chat_template", "apply: unexpected " + r.status().to_string());
}

}  // namespace

int chat_template_one_input(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= in.size(); ++i) {
    if (i == in.size() || in[i] == '\0') {
      parts.push_back(in.substr(start, i - start));
      start = i + 1;
    }
  }
  static const char* kRoles[] = {"system", "user", "assistant", "developer", "tool", ""};
  std::vector<ChatMessage> messages;
  for (size_t i = 1; i < parts.size() && messages.size() < 64; ++i) {
    if (parts[i].empty()) continue;
    const auto role = static_cast<unsigned char>(parts[i][0]);
    messages.push_back({kRoles[role % 6], std::string(parts[i].substr(1))});
  }
  const bool gen = !in.empty() && (static_cast<unsigned char>(in[0]) & 1);
  std::optional<std::string> source;
  if (!parts[0].empty()) source = std::string(parts[0]);
  check(ChatTemplate::detect(source, vocab()), messages, gen);
  if (!in.empty() && (static_cast<unsigned char>(in[0]) & 2)) {
    for (const char* name : {"plain", "chatml", "qwen3", "llama3", "deepseek-r1", "deepseek3", "llama2",
                             "gemma", "phi3"}) {
      if (auto t = ChatTemplate::from_name(name)) check(*t, messages, gen);
    }
  }
  return 0;
}

}  // namespace scn::fuzz

SCN_FUZZ_ENTRY(chat_template)
