// Chat template families rendered in C++.
#include "inference/tokenizer/chat_template.h"

#include <array>
#include <utility>

namespace scn::inference {

namespace {

using Family = ChatTemplate::Family;

constexpr std::pair<Family, std::string_view> kNames[] = {
    {Family::kPlain, "plain"},           {Family::kChatml, "chatml"}, {Family::kQwen3, "qwen3"},
    {Family::kLlama3, "llama3"},         {Family::kDeepseekR1, "deepseek-r1"},
    {Family::kDeepseek3, "deepseek3"},   {Family::kLlama2, "llama2"}, {Family::kGemma, "gemma"},
    {Family::kPhi3, "phi3"},
};

constexpr std::string_view kWhitespace = " \t\n\r\v\f";

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(kWhitespace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kWhitespace) - b + 1);
}

std::string_view lstrip_newlines(std::string_view s) {
  while (!s.empty() && s.front() == '\n') s.remove_prefix(1);
  return s;
}

std::string_view strip_newlines(std::string_view s) {
  s = lstrip_newlines(s);
  while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return s;
}

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

// The text after the last "</think>" (all of it when there is none).
std::string_view after_reasoning(std::string_view content) {
  const size_t end = content.rfind("</think>");
  return end == std::string_view::npos ? content : content.substr(end + 8);
}

// Qwen3's reasoning: content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n').
std::string_view reasoning_of(std::string_view content) {
  if (!contains(content, "</think>")) return {};
  std::string_view r = content.substr(0, content.find("</think>"));
  while (!r.empty() && r.back() == '\n') r.remove_suffix(1);
  if (const size_t open = r.rfind("<think>"); open != std::string_view::npos) r = r.substr(open + 7);
  return lstrip_newlines(r);
}

// A default system prompt written literally in a chatml template, e.g.
// '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n'.
std::string find_default_system(std::string_view src) {
  for (std::string_view head : {std::string_view("<|im_start|>system\\n"), std::string_view("<|im_start|>system\n")}) {
    for (size_t pos = src.find(head); pos != std::string_view::npos; pos = src.find(head, pos + 1)) {
      const size_t start = pos + head.size();
      const size_t end = src.find("<|im_end|>", start);
      if (end == std::string_view::npos) continue;
      const std::string_view text = src.substr(start, end - start);
      if (text.empty() || text.find_first_of("'\"{}+") != std::string_view::npos) continue;
      std::string out;
      for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'n') {
          out += '\n';
          ++i;
        } else {
          out += text[i];
        }
      }
      return out;
    }
  }
  return {};
}

std::optional<Family> family_of_source(std::string_view src) {
  if (contains(src, "<|im_start|>")) {
    return contains(src, "<think>") && contains(src, "</think>") ? Family::kQwen3 : Family::kChatml;
  }
  if (contains(src, "[INST]")) return Family::kLlama2;
  if (contains(src, "<|assistant|>") && contains(src, "<|end|>")) return Family::kPhi3;
  if (contains(src, "<start_of_turn>")) return Family::kGemma;
  if (contains(src, "<|start_header_id|>") && contains(src, "<|end_header_id|>")) return Family::kLlama3;
  if (contains(src, "<｜User｜>") && contains(src, "<｜Assistant｜>")) {
    return contains(src, "<think>") ? Family::kDeepseekR1 : Family::kDeepseek3;
  }
  return std::nullopt;
}

std::optional<Family> family_of_vocab(const Vocab& v) {
  const auto has = [&](std::string_view t) { return v.find_token(t).has_value(); };
  if (has("<|im_start|>") && has("<|im_end|>")) return Family::kChatml;
  if (has("<|start_header_id|>") && has("<|end_header_id|>")) return Family::kLlama3;
  if (has("<｜User｜>") && has("<｜Assistant｜>")) return has("<think>") ? Family::kDeepseekR1 : Family::kDeepseek3;
  if (has("<start_of_turn>") && has("<end_of_turn>")) return Family::kGemma;
  if (has("<|user|>") && has("<|assistant|>") && has("<|end|>")) return Family::kPhi3;
  return std::nullopt;
}

Status check_roles(const std::vector<ChatMessage>& messages) {
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r != "system" && r != "user" && r != "assistant") {
      return Status::invalid_argument("message " + std::to_string(i) + " has role '" + r +
                                      "' (system, user and assistant are supported)");
    }
  }
  return Status::ok();
}

// Llama 2 / Gemma: after an optional leading system message, user and
// assistant must alternate starting with user.
Status check_alternation(const std::vector<ChatMessage>& messages, size_t first, std::string_view family) {
  for (size_t i = first; i < messages.size(); ++i) {
    const bool want_user = (i - first) % 2 == 0;
    if ((messages[i].role == "user") != want_user || messages[i].role == "system") {
      return Status::invalid_argument(std::string(family) +
                                      " chat: roles must alternate user/assistant/user/... after an "
                                      "optional first system message (message " + std::to_string(i) + " is " +
                                      messages[i].role + ")");
    }
  }
  return Status::ok();
}

}  // namespace

ChatTemplate ChatTemplate::detect(const std::optional<std::string>& jinja_source, const Vocab& vocab) {
  std::optional<Family> f;
  if (jinja_source) f = family_of_source(*jinja_source);
  if (!f) f = family_of_vocab(vocab);
  ChatTemplate t(f.value_or(Family::kPlain));
  if (jinja_source && t.family_ == Family::kChatml) t.default_system_ = find_default_system(*jinja_source);
  if (t.family_ == Family::kDeepseekR1 || t.family_ == Family::kDeepseek3) {
    t.strip_reasoning_ = jinja_source ? contains(*jinja_source, "</think>") : t.family_ == Family::kDeepseekR1;
    t.user_opens_assistant_ = jinja_source && contains(*jinja_source, "is_last_user");
  }
  if (vocab.bos() >= 0) t.bos_text_ = vocab.token_text(vocab.bos());
  if (vocab.eos() >= 0) t.eos_text_ = vocab.token_text(vocab.eos());
  return t;
}

std::optional<ChatTemplate> ChatTemplate::from_name(std::string_view name) {
  for (const auto& [f, n] : kNames) {
    if (n != name) continue;
    ChatTemplate t(f);
    t.strip_reasoning_ = f == Family::kDeepseekR1;
    return t;
  }
  return std::nullopt;
}

std::string_view ChatTemplate::name() const {
  for (const auto& [f, n] : kNames) {
    if (f == family_) return n;
  }
  return "plain";
}

Result<std::string> ChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  SCN_RETURN_IF_ERROR(check_roles(messages));
  std::string out;
  const bool leading_system = !messages.empty() && messages[0].role == "system";
  switch (family_) {
    case Family::kPlain:
      for (const auto& m : messages) out += m.role + ": " + m.content + "\n";
      if (add_generation_prompt) out += "assistant:";
      break;

    case Family::kChatml:
      if (!leading_system && !default_system_.empty()) out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
      for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      break;

    case Family::kQwen3: {
      size_t last_user = messages.size();  // index of the last user message
      for (size_t i = messages.size(); i-- > 0;) {
        if (messages[i].role == "user") {
          last_user = i;
          break;
        }
      }
      for (size_t i = 0; i < messages.size(); ++i) {
        const auto& m = messages[i];
        if (m.role != "assistant") {
          out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
          continue;
        }
        std::string_view content = m.content;
        std::string_view reasoning = reasoning_of(content);
        if (contains(content, "</think>")) content = lstrip_newlines(after_reasoning(content));
        const bool after_query = last_user < messages.size() && i > last_user;
        if (after_query && (i + 1 == messages.size() || !reasoning.empty())) {
          out += "<|im_start|>assistant\n<think>\n";
          out += strip_newlines(reasoning);
          out += "\n</think>\n\n";
          out += lstrip_newlines(content);
        } else {
          out += "<|im_start|>assistant\n";
          out += content;
        }
        out += "<|im_end|>\n";
      }
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      break;
    }

    case Family::kLlama3:
      for (const auto& m : messages) {
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n";
        out += trim(m.content);
        out += "<|eot_id|>";
      }
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;

    case Family::kDeepseekR1:
    case Family::kDeepseek3: {
      bool first_system = true;
      for (const auto& m : messages) {
        if (m.role != "system") continue;
        if (!first_system) out += "\n\n";
        out += m.content;
        first_system = false;
      }
      for (const auto& m : messages) {
        if (m.role == "user") {
          out += "<｜User｜>" + m.content;
          if (user_opens_assistant_) out += "<｜Assistant｜>";
        } else if (m.role == "assistant") {
          if (!user_opens_assistant_) out += "<｜Assistant｜>";
          out += strip_reasoning_ ? after_reasoning(m.content) : std::string_view(m.content);
          out += "<｜end▁of▁sentence｜>";
        }
      }
      if (add_generation_prompt) {
        bool last_is_user = false;  // system messages leave it as it was
        for (const auto& m : messages) {
          if (m.role != "system") last_is_user = m.role == "user";
        }
        if (!user_opens_assistant_) {
          out += family_ == Family::kDeepseekR1 ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>";
        } else if (!last_is_user) {
          out += "<｜Assistant｜>";
        }
      }
      break;
    }

    case Family::kLlama2: {
      const size_t first = leading_system ? 1 : 0;
      SCN_RETURN_IF_ERROR(check_alternation(messages, first, "llama2"));
      for (size_t i = first; i < messages.size(); ++i) {
        const auto& m = messages[i];
        std::string content = m.content;
        if (i == first && leading_system) content = "<<SYS>>\n" + messages[0].content + "\n<</SYS>>\n\n" + content;
        if (m.role == "user") {
          if (i != first) out += bos_text_;
          out += "[INST] ";
          out += trim(content);
          out += " [/INST]";
        } else {
          out += " ";
          out += trim(content);
          out += " " + eos_text_;
        }
      }
      break;  // the prompt already ends in [/INST]: nothing to add
    }

    case Family::kGemma: {
      const size_t first = leading_system ? 1 : 0;
      SCN_RETURN_IF_ERROR(check_alternation(messages, first, "gemma"));
      for (size_t i = first; i < messages.size(); ++i) {
        const auto& m = messages[i];
        out += "<start_of_turn>";
        out += m.role == "assistant" ? "model" : m.role;
        out += "\n";
        if (i == first && leading_system) out += messages[0].content + "\n\n";
        out += trim(m.content);
        out += "<end_of_turn>\n";
      }
      if (add_generation_prompt) out += "<start_of_turn>model\n";
      break;
    }

    case Family::kPhi3:
      for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
      if (add_generation_prompt) out += "<|assistant|>\n";
      break;
  }
  return out;
}

}  // namespace scn::inference
