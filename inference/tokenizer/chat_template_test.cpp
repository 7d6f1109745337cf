// Chat templates: detection and the exact text of each family, checked by
// hand against what the real Jinja templates render (minus the leading BOS).
#include "inference/tokenizer/chat_template.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "inference/tokenizer/vocab_test_cases.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

std::unique_ptr<Vocab> load_vocab(const std::string& rel) {
  auto file = GgufFile::open(scn::testing::shared_path(rel));
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  auto vocab = Vocab::from_gguf(**file);
  REQUIRE_MESSAGE(vocab.is_ok(), vocab.status().to_string());
  return std::move(vocab).value();
}

// Excerpts of real templates: enough of each for detection.
const char* kChatmlSource =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const char* kQwen25Source =
    "{%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + "
    "'<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba "
    "Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}";
const char* kLlama3Source =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
const char* kDeepseekR1Source =
    "{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}"
    "{{'<｜User｜>' + message['content']}}{%- endif %}{% set content = message['content'] %}{% if '</think>' in "
    "content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + "
    "'<｜end▁of▁sentence｜>'}}{% endfor %}{% if add_generation_prompt and not ns.is_tool %}"
    "{{'<｜Assistant｜><think>\\n'}}{% endif %}";
const char* kDeepseekV3Source =
    "{{'<｜User｜>' + message['content']}}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}"
    "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}";
const char* kDeepseek0528Source =
    "{% set ns = namespace(is_last_user=false) %}{{'<｜User｜>' + content + '<｜Assistant｜>'}}{% if '</think>' "
    "in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{content + "
    "'<｜end▁of▁sentence｜>'}}{% if add_generation_prompt and not ns.is_last_user and not ns.is_tool %}"
    "{{'<｜Assistant｜>'}}{% endif %}";
const char* kLlama2Source =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = "
    "'<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% endif %}{% if "
    "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif "
    "message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}";
const char* kGemmaSource =
    "{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
    "{%- endif -%}{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}{%- if add_generation_prompt -%}"
    "{{'<start_of_turn>model\\n'}}{%- endif -%}";

const std::vector<ChatMessage> kConversation = {
    {"system", "You are helpful."},
    {"user", "Hi"},
    {"assistant", "Hello!"},
    {"user", "How are you?"},
};
const std::vector<ChatMessage> kNoSystem = {
    {"user", "Hi"},
    {"assistant", "Hello!"},
    {"user", "How are you?"},
};

}  // namespace

TEST_CASE("chat_template: each family renders what its real template renders") {
  const auto plain_vocab = load_vocab("models/stories260K.gguf");  // no chat tokens
  const auto phi3_vocab = load_vocab("vocab/ggml-vocab-phi-3.gguf");
  struct Case {
    const char* source;  // nullptr: none
    const Vocab* vocab;
    const char* family;
    std::vector<ChatMessage> messages;
    bool generation_prompt;
    std::string expected;
  };
  const std::string qwen3_source = [] {
    const auto cfg = boost::json::parse(testing::read_whole_file(
        scn::testing::shared_path("tokenizers/qwen/tokenizer_config.json")));
    return std::string(cfg.at("chat_template").as_string());
  }();
  const Case cases[] = {
      {kChatmlSource, plain_vocab.get(), "chatml", kConversation, true,
       "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
       "Hello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n"},
      {kQwen25Source, plain_vocab.get(), "chatml", {{"user", "Hi"}}, true,
       "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
       "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
      {kQwen25Source, plain_vocab.get(), "chatml", {{"system", "S"}, {"user", "Hi"}}, false,
       "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"},
      {qwen3_source.c_str(), plain_vocab.get(), "qwen3",
       {{"user", "2+2?"}, {"assistant", "<think>\nadd\n</think>\n\n4"}, {"user", "3+3?"}}, true,
       "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n"
       "<|im_start|>assistant\n"},
      {qwen3_source.c_str(), plain_vocab.get(), "qwen3", {{"system", "S"}, {"user", "Hi"}, {"assistant", "Hello"}},
       false,
       "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>"
       "\n\nHello<|im_end|>\n"},
      {kLlama3Source, plain_vocab.get(), "llama3", kConversation, true,
       "<|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user"
       "<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
       "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|><|start_header_id|>assistant"
       "<|end_header_id|>\n\n"},
      {kLlama3Source, plain_vocab.get(), "llama3", {{"user", "  padded \n"}}, false,
       "<|start_header_id|>user<|end_header_id|>\n\npadded<|eot_id|>"},
      {kDeepseekR1Source, plain_vocab.get(), "deepseek-r1",
       {{"system", "You are helpful."}, {"system", "Be brief."}, {"user", "Hi"},
        {"assistant", "<think>\nhm\n</think>\n\nHello!"}, {"user", "How are you?"}},
       true,
       "You are helpful.\n\nBe brief.<｜User｜>Hi<｜Assistant｜>\n\nHello!<｜end▁of▁sentence｜><｜User｜>How are you?"
       "<｜Assistant｜><think>\n"},
      {kDeepseekV3Source, plain_vocab.get(), "deepseek3", kNoSystem, true,
       "<｜User｜>Hi<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>How are you?<｜Assistant｜>"},
      {kDeepseek0528Source, plain_vocab.get(), "deepseek3", kNoSystem, true,
       "<｜User｜>Hi<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>How are you?<｜Assistant｜>"},
      {kDeepseek0528Source, plain_vocab.get(), "deepseek3", {{"user", "Hi"}, {"assistant", "<think>x</think>Yo"}}, true,
       "<｜User｜>Hi<｜Assistant｜>Yo<｜end▁of▁sentence｜><｜Assistant｜>"},
      {kLlama2Source, plain_vocab.get(), "llama2", kConversation, true,
       "[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] How are you? [/INST]"},
      {kGemmaSource, plain_vocab.get(), "gemma", kConversation, true,
       "<start_of_turn>user\nYou are helpful.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
       "<start_of_turn>user\nHow are you?<end_of_turn>\n<start_of_turn>model\n"},
      {nullptr, phi3_vocab.get(), "phi3", kNoSystem, true,  // the template inside the file
       "<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nHow are you?<|end|>\n<|assistant|>\n"},
      {nullptr, plain_vocab.get(), "plain", kConversation, true,
       "system: You are helpful.\nuser: Hi\nassistant: Hello!\nuser: How are you?\nassistant:"},
      {"{{ unknown template }}", plain_vocab.get(), "plain", {{"user", "Hi"}}, false, "user: Hi\n"},
  };
  for (const Case& c : cases) {
    std::optional<std::string> source;
    if (c.source) source = c.source;
    if (!c.source && c.vocab == phi3_vocab.get()) source = phi3_vocab->chat_template();
    const ChatTemplate t = ChatTemplate::detect(source, *c.vocab);
    CAPTURE(c.family);
    CHECK(t.name() == c.family);
    const auto out = t.apply(c.messages, c.generation_prompt);
    REQUIRE_MESSAGE(out.is_ok(), out.status().to_string());
    CHECK(*out == c.expected);
  }
}

TEST_CASE("chat_template: detection from the vocabulary, role checks") {
  const auto phi3_vocab = load_vocab("vocab/ggml-vocab-phi-3.gguf");
  CHECK(ChatTemplate::detect(std::nullopt, *phi3_vocab).name() == "phi3");
  CHECK(ChatTemplate::from_name("gemma")->name() == "gemma");
  CHECK_FALSE(ChatTemplate::from_name("jinja").has_value());

  for (const char* family : {"plain", "chatml", "qwen3", "llama3", "deepseek-r1", "deepseek3", "llama2", "gemma", "phi3"}) {
    const auto t = ChatTemplate::from_name(family);
    REQUIRE(t.has_value());
    CAPTURE(family);
    CHECK(t->apply({{"user", "hi"}, {"tool", "x"}}, true).status().code() == Code::kInvalidArgument);
    CHECK(t->apply({}, true).is_ok());
  }
  // Llama 2 and Gemma need user/assistant alternation, as their templates do.
  for (const char* family : {"llama2", "gemma"}) {
    const auto t = ChatTemplate::from_name(family);
    CAPTURE(family);
    CHECK(t->apply({{"user", "a"}, {"user", "b"}}, true).status().code() == Code::kInvalidArgument);
    CHECK(t->apply({{"assistant", "a"}}, true).status().code() == Code::kInvalidArgument);
    CHECK(t->apply({{"user", "a"}, {"system", "b"}}, true).status().code() == Code::kInvalidArgument);
  }
}

}  // namespace scn::inference
