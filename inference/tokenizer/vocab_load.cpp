// Vocab::from_gguf: reading and validating tokenizer.ggml.* metadata.
#include <algorithm>
#include <cctype>

#include "inference/tokenizer/bpe.h"
#include "inference/tokenizer/unicode.h"
#include "inference/tokenizer/vocab.h"

namespace scn::inference {

namespace {

constexpr const char* kKeyModel = "tokenizer.ggml.model";
constexpr const char* kKeyPre = "tokenizer.ggml.pre";
constexpr const char* kKeyTokens = "tokenizer.ggml.tokens";
constexpr const char* kKeyScores = "tokenizer.ggml.scores";
constexpr const char* kKeyTypes = "tokenizer.ggml.token_type";
constexpr const char* kKeyMerges = "tokenizer.ggml.merges";

bool is_integer_type(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::UINT16:
    case GgufValueType::INT16: case GgufValueType::UINT32: case GgufValueType::INT32:
    case GgufValueType::UINT64: case GgufValueType::INT64:
      return true;
    default:
      return false;
  }
}

Result<const GgufArray*> get_array(const GgufFile& f, const char* key, bool required) {
  const GgufValue* v = f.find(key);
  if (!v) {
    if (required) return Status::corrupt(std::string("missing ") + key);
    return static_cast<const GgufArray*>(nullptr);
  }
  const GgufArray* a = v->as_array();
  if (!a) return Status::corrupt(std::string(key) + " is not an array");
  return a;
}

// nullptr when absent.
Result<const std::string*> get_string(const GgufFile& f, const char* key) {
  const GgufValue* v = f.find(key);
  if (!v) return static_cast<const std::string*>(nullptr);
  const std::string* s = v->as_string();
  if (!s) return Status::corrupt(std::string(key) + " is not a string");
  return s;
}

Result<std::optional<bool>> get_bool(const GgufFile& f, const char* key) {
  const GgufValue* v = f.find(key);
  if (!v) return std::optional<bool>();
  const auto b = v->as_bool();
  if (!b) return Status::corrupt(std::string(key) + " is not a bool");
  return std::optional<bool>(*b);
}

// Token ids of the texts llama.cpp treats as end of generation.
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
    "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
    "<｜end▁of▁sentence｜>",
};
// Candidates for the end-of-turn token when the file names none, by priority.
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
};
constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};

}  // namespace

// Builds a Vocab step by step; a friend of Vocab.
class VocabLoader {
 public:
  VocabLoader(const GgufFile& f) : f_(f), v_(new Vocab()) {}
  Result<std::unique_ptr<Vocab>> run();

 private:
  Status read_model();
  Status read_tokens();
  Status read_special_ids();
  void mark_end_of_generation();
  void apply_model_quirks();
  Status build_tables();
  // Reads an id key: nullopt when absent or "none" (-1 / 0xFFFFFFFF).
  Result<std::optional<int32_t>> read_id(const char* key, bool strict);
  int32_t find(std::string_view text) const { return lookup_token(v_->token_to_id_, text); }

  const GgufFile& f_;
  std::unique_ptr<Vocab> v_;
  const std::vector<std::string>* merges_ = nullptr;  // inside f_
};

Result<std::unique_ptr<Vocab>> Vocab::from_gguf(const GgufFile& file) {
  return VocabLoader(file).run();
}

Result<std::unique_ptr<Vocab>> VocabLoader::run() {
  SCN_RETURN_IF_ERROR(read_model());
  SCN_RETURN_IF_ERROR(read_tokens());
  SCN_RETURN_IF_ERROR(read_special_ids());
  mark_end_of_generation();
  apply_model_quirks();
  SCN_RETURN_IF_ERROR(build_tables());
  SCN_ASSIGN_OR_RETURN(const std::string* tmpl, get_string(f_, "tokenizer.chat_template"));
  if (tmpl) v_->chat_template_ = *tmpl;
  return std::move(v_);
}

Status VocabLoader::read_model() {
  SCN_ASSIGN_OR_RETURN(const std::string* model, get_string(f_, kKeyModel));
  if (!model) return Status::corrupt(std::string("missing ") + kKeyModel);
  if (*model == "llama") {
    v_->type_ = VocabType::kSpm;
    v_->add_space_prefix_ = true;
    v_->add_bos_ = true;
  } else if (*model == "gpt2") {
    v_->type_ = VocabType::kBpe;
    SCN_ASSIGN_OR_RETURN(const std::string* pre, get_string(f_, kKeyPre));
    const auto pre_type = pre_tokenizer_from_name(pre ? *pre : "");
    if (!pre_type) {
      return Status::unprocessable("pre-tokenizer '" + *pre + "' (" + kKeyPre + ") is not supported");
    }
    v_->pre_type_ = *pre_type;
    if (*pre_type == PreTokenizerType::kLlama3) {
      v_->ignore_merges_ = true;
      v_->add_bos_ = true;
    }
  } else {
    return Status::unprocessable("tokenizer model '" + *model + "' (" + kKeyModel +
                                 ") is not supported (llama and gpt2 are)");
  }
  if (v_->type_ == VocabType::kSpm) {
    SCN_ASSIGN_OR_RETURN(auto prefix, get_bool(f_, "tokenizer.ggml.add_space_prefix"));
    if (prefix) v_->add_space_prefix_ = *prefix;
  }
  return Status::ok();
}

Status VocabLoader::read_tokens() {
  SCN_ASSIGN_OR_RETURN(const GgufArray* tokens, get_array(f_, kKeyTokens, true));
  if (tokens->type != GgufValueType::STRING) return Status::corrupt(std::string(kKeyTokens) + " is not an array of strings");
  const size_t n = tokens->strings.size();
  if (n == 0) return Status::corrupt(std::string(kKeyTokens) + " is empty");
  if (n > static_cast<size_t>(INT32_MAX)) return Status::corrupt(std::string(kKeyTokens) + " is too long");

  SCN_ASSIGN_OR_RETURN(const GgufArray* scores, get_array(f_, kKeyScores, false));
  if (scores) {
    const bool floats = scores->type == GgufValueType::FLOAT32 || scores->type == GgufValueType::FLOAT64;
    if (!floats && !is_integer_type(scores->type)) return Status::corrupt(std::string(kKeyScores) + " is not numeric");
    if (scores->size() != n) {
      return Status::corrupt(std::string(kKeyScores) + " has " + std::to_string(scores->size()) +
                             " entries for " + std::to_string(n) + " tokens");
    }
  }
  SCN_ASSIGN_OR_RETURN(const GgufArray* types, get_array(f_, kKeyTypes, false));
  if (types) {
    if (!is_integer_type(types->type)) return Status::corrupt(std::string(kKeyTypes) + " is not an integer array");
    if (types->size() != n) {
      return Status::corrupt(std::string(kKeyTypes) + " has " + std::to_string(types->size()) +
                             " entries for " + std::to_string(n) + " tokens");
    }
  }

  v_->tokens_.resize(n);
  v_->scores_.resize(n);
  v_->token_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Vocab::Token& t = v_->tokens_[i];
    t.text = tokens->strings[i];
    if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
    if (scores) {
      t.score = scores->floats.empty() ? static_cast<float>(scores->ints[i]) : static_cast<float>(scores->floats[i]);
    }
    v_->scores_[i] = t.score;
    if (types) {
      const int64_t ty = types->ints[i];
      if (ty < 0 || ty > 6) {
        return Status::corrupt(std::string(kKeyTypes) + "[" + std::to_string(i) + "] = " +
                               std::to_string(ty) + " is not a token type (0..6)");
      }
      t.type = static_cast<TokenType>(ty);
    }
    switch (t.type) {
      case TokenType::kUndefined: t.attr = Vocab::kAttrUndefined; break;
      case TokenType::kNormal: t.attr = Vocab::kAttrNormal; break;
      case TokenType::kUnknown: t.attr = Vocab::kAttrUnknown; break;
      case TokenType::kControl: t.attr = Vocab::kAttrControl; break;
      case TokenType::kUserDefined: t.attr = Vocab::kAttrUserDefined; break;
      case TokenType::kUnused: t.attr = Vocab::kAttrUnused; break;
      case TokenType::kByte: t.attr = Vocab::kAttrByte; break;
    }
    if (t.type == TokenType::kByte) {
      const std::string& s = t.text;
      const bool ok = s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>' &&
                      std::isxdigit(static_cast<unsigned char>(s[3])) &&
                      std::isxdigit(static_cast<unsigned char>(s[4]));
      if (!ok) return Status::corrupt("byte token " + std::to_string(i) + " ('" + s + "') is not of the form <0xXX>");
    }
    const auto [it, fresh] = v_->token_to_id_.emplace(t.text, static_cast<int32_t>(i));
    if (!fresh) {
      return Status::corrupt("duplicate token '" + t.text + "' in " + kKeyTokens + ": ids " +
                             std::to_string(it->second) + " and " + std::to_string(i));
    }
  }

  if (v_->type_ == VocabType::kBpe) {
    SCN_ASSIGN_OR_RETURN(const GgufArray* merges, get_array(f_, kKeyMerges, true));
    if (merges->type != GgufValueType::STRING) return Status::corrupt(std::string(kKeyMerges) + " is not an array of strings");
    merges_ = &merges->strings;
  }
  return Status::ok();
}

Result<std::optional<int32_t>> VocabLoader::read_id(const char* key, bool strict) {
  const GgufValue* v = f_.find(key);
  if (!v) return std::optional<int32_t>();
  const auto x = v->as_i64();
  if (!x) return Status::corrupt(std::string(key) + " is not an integer");
  if (*x == -1 || *x == 0xFFFFFFFFll) return std::optional<int32_t>(-1);
  if (*x < 0 || *x >= v_->n_tokens()) {
    if (!strict) return std::optional<int32_t>();  // ignored, like llama.cpp
    return Status::corrupt(std::string(key) + " = " + std::to_string(*x) + " is outside the vocabulary of " +
                           std::to_string(v_->n_tokens()) + " tokens");
  }
  return std::optional<int32_t>(static_cast<int32_t>(*x));
}

Status VocabLoader::read_special_ids() {
  const int32_t n = v_->n_tokens();
  if (v_->type_ == VocabType::kSpm) {  // llama.cpp's SentencePiece defaults
    v_->bos_ = n > 1 ? 1 : -1;
    v_->eos_ = n > 2 ? 2 : -1;
    v_->unk_ = 0;
  }
  const struct {
    const char* key;
    int32_t* id;
    bool strict;
  } keys[] = {
      {"tokenizer.ggml.bos_token_id", &v_->bos_, true},
      {"tokenizer.ggml.eos_token_id", &v_->eos_, true},
      {"tokenizer.ggml.eot_token_id", &v_->eot_, true},
      {"tokenizer.ggml.eom_token_id", &v_->eom_, true},
      {"tokenizer.ggml.unknown_token_id", &v_->unk_, true},
      {"tokenizer.ggml.padding_token_id", &v_->pad_, false},
  };
  for (const auto& k : keys) {
    SCN_ASSIGN_OR_RETURN(auto id, read_id(k.key, k.strict));
    if (id) *k.id = *id;
  }
  SCN_ASSIGN_OR_RETURN(auto add_bos, get_bool(f_, "tokenizer.ggml.add_bos_token"));
  SCN_ASSIGN_OR_RETURN(auto add_eos, get_bool(f_, "tokenizer.ggml.add_eos_token"));
  if (add_bos) v_->add_bos_ = *add_bos;
  if (add_eos) v_->add_eos_ = *add_eos;
  if (v_->add_bos_ && v_->bos_ < 0) return Status::corrupt("tokenizer.ggml.add_bos_token is true but there is no BOS token");
  if (v_->add_eos_ && v_->eos_ < 0) return Status::corrupt("tokenizer.ggml.add_eos_token is true but there is no EOS token");
  return Status::ok();
}

void VocabLoader::mark_end_of_generation() {
  auto& toks = v_->tokens_;
  v_->eog_.assign(toks.size(), 0);
  // Tokens found by their text are control tokens whatever the file says.
  const auto mark = [&](int32_t id) {
    if (id < 0) return;
    v_->eog_[id] = 1;
  };
  const auto find_control = [&](std::span<const std::string_view> texts) {
    for (std::string_view t : texts) {
      const int32_t id = find(t);
      if (id >= 0) {
        toks[id].attr |= Vocab::kAttrControl;
        return id;
      }
    }
    return -1;
  };
  if (v_->eot_ < 0) v_->eot_ = find_control(kEotTexts);
  if (v_->eom_ < 0) v_->eom_ = find_control(kEomTexts);
  for (auto texts : {std::span<const std::string_view>(kFimPadTexts), std::span<const std::string_view>(kFimRepTexts),
                     std::span<const std::string_view>(kFimSepTexts)}) {
    mark(find_control(texts));
  }
  for (std::string_view t : kEogTexts) {
    const int32_t id = find(t);
    if (id < 0) continue;
    toks[id].attr |= Vocab::kAttrControl;
    mark(id);
  }
  mark(v_->eos_);
  mark(v_->eot_);
  mark(v_->eom_);
  // gpt-oss (harmony): <|end|> ends a message, not the generation.
  const int32_t ret = find("<|return|>"), call = find("<|call|>"), end = find("<|end|>");
  if (ret >= 0 && call >= 0 && end >= 0 && v_->eos_ != end) {
    v_->eog_[end] = 0;
    toks[end].attr = Vocab::kAttrUserDefined;
  }
}

void VocabLoader::apply_model_quirks() {
  // Phi-3 strips whitespace after its special tokens (llama.cpp keys this on
  // general.name, as the GGUF carries no per-token flag for it).
  auto name = f_.get_string("general.name").value_or("");
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return;
  for (auto& t : v_->tokens_) {
    if (t.attr & (Vocab::kAttrControl | Vocab::kAttrUserDefined | Vocab::kAttrUnknown)) t.attr |= Vocab::kAttrRstrip;
  }
  for (std::string_view text : {"</s>"}) {
    if (int32_t id = find(text); id >= 0) v_->tokens_[id].attr |= Vocab::kAttrRstrip;
  }
  for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
    if (int32_t id = find(text); id >= 0) v_->tokens_[id].attr &= ~Vocab::kAttrRstrip;
  }
}

Status VocabLoader::build_tables() {
  Vocab& v = *v_;
  const int32_t n = v.n_tokens();
  for (int32_t id = 0; id < n; ++id) {
    if (v.tokens_[id].attr & (Vocab::kAttrControl | Vocab::kAttrUserDefined | Vocab::kAttrUnknown)) {
      v.special_cache_.push_back(id);
    }
  }
  std::stable_sort(v.special_cache_.begin(), v.special_cache_.end(), [&](int32_t a, int32_t b) {
    return v.tokens_[a].text.size() > v.tokens_[b].text.size();
  });

  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    int32_t id = -1;
    if (v.type_ == VocabType::kSpm) {
      const char buf[7] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>', 0};
      id = find(buf);
      if (id < 0) id = find(std::string(1, static_cast<char>(b)));
    } else {
      id = find(byte_level_encode(std::string(1, static_cast<char>(b))));
    }
    v.byte_tokens_[b] = id;
  }

  if (v.type_ == VocabType::kBpe) {
    SCN_ASSIGN_OR_RETURN(v.bpe_, BpeModel::build(v.token_to_id_, n, *merges_, v.unk_));
    SCN_ASSIGN_OR_RETURN(v.pre_, PreTokenizer::create(v.pre_type_));
  }

  v.pieces_.resize(n);
  for (int32_t id = 0; id < n; ++id) v.pieces_[id] = v.make_piece(id);
  return Status::ok();
}

}  // namespace scn::inference
