// Hugging Face tokenizer.json -> GGUF tokenizer.ggml.* metadata.
#include "inference/tokenizer/hf_import.h"

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "inference/tokenizer/pre_tokenizer.h"
#include "inference/tokenizer/vocab.h"

namespace scn::inference {

namespace json = boost::json;

namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::io_error("cannot read '" + path + "'");
  return ss.str();
}

std::optional<int64_t> as_int(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

const json::string* as_str(const json::value* v) { return v ? v->if_string() : nullptr; }

bool looks_special(std::string_view t) {
  const auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.substr(0, open.size()) == open &&
           t.substr(t.size() - close.size()) == close;
  };
  return t == "<pad>" || t == "<mask>" || wrapped("<|", "|>") || wrapped("<｜", "｜>");
}

// The Split regexes of a pre_tokenizer (in order), and whether a ByteLevel
// step splits with GPT-2's regex itself.
void collect_pre(const json::value& pre, std::vector<std::string>& splits, bool& byte_level,
                 bool& byte_level_regex) {
  const json::object* o = pre.if_object();
  if (!o) return;
  const json::string* type = as_str(o->if_contains("type"));
  if (!type) return;
  if (*type == "Sequence") {
    if (const json::value* list = o->if_contains("pretokenizers"); list && list->is_array()) {
      for (const auto& p : list->as_array()) collect_pre(p, splits, byte_level, byte_level_regex);
    }
  } else if (*type == "Split") {
    const json::value* pattern = o->if_contains("pattern");
    const json::object* po = pattern ? pattern->if_object() : nullptr;
    const json::string* re = po ? as_str(po->if_contains("Regex")) : nullptr;
    if (!re && po) re = as_str(po->if_contains("String"));
    if (re) splits.emplace_back(re->data(), re->size());
  } else if (*type == "ByteLevel") {
    byte_level = true;
    const json::value* use = o->if_contains("use_regex");
    if (!use || (use->is_bool() && use->as_bool())) byte_level_regex = true;
  }
}

Result<PreTokenizerType> detect_pre(const std::vector<std::string>& splits, bool byte_level_regex) {
  static const std::string kQwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::string kLlama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::string kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  if (splits.size() == 1 && splits[0] == kQwen2) return PreTokenizerType::kQwen2;
  if (splits.size() == 1 && splits[0] == kLlama3) return PreTokenizerType::kLlama3;
  if (splits.size() == 1 && splits[0] == kGpt2) return PreTokenizerType::kGpt2;
  if (splits.size() == 6 && splits[0] == "[\r\n]" && splits[3] == R"(\s+$)" && splits[5] == R"(\p{N}+)") {
    return PreTokenizerType::kDeepseekLlm;
  }
  if (splits.size() == 5 && splits[0] == "[\r\n]" && splits[1] == R"(\s?\p{L}+)" &&
      splits[2] == R"(\s?\p{P}+)" && splits[4] == R"(\p{N})") {
    return PreTokenizerType::kDeepseekCoder;
  }
  if (splits.empty() && byte_level_regex) return PreTokenizerType::kGpt2;
  std::string what = splits.empty() ? "no Split regex" : "Split regex '" + splits[0] + "'";
  return Status::unprocessable("pre-tokenizer not recognised (" + what +
                               "); supported: gpt-2, llama-bpe, qwen2, deepseek-llm, deepseek-coder");
}

struct Config {
  std::map<std::string, std::string> special_texts;  // "bos" -> "<s>"
  std::optional<bool> add_bos, add_eos;
  std::optional<std::string> chat_template;
};

Result<Config> read_config(const std::filesystem::path& path) {
  Config c;
  std::error_code fs_ec;
  if (!std::filesystem::exists(path, fs_ec)) return c;
  SCN_ASSIGN_OR_RETURN(std::string text, read_file(path.string()));
  boost::system::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec || !root.is_object()) return Status::corrupt("'" + path.string() + "' is not a JSON object");
  const json::object& o = root.as_object();
  for (const char* name : {"bos", "eos", "unk", "pad"}) {
    const json::value* v = o.if_contains(std::string(name) + "_token");
    const json::string* s = as_str(v);
    if (!s && v && v->is_object()) s = as_str(v->as_object().if_contains("content"));
    if (s) c.special_texts[name] = std::string(s->data(), s->size());
  }
  if (const json::value* v = o.if_contains("add_bos_token"); v && v->is_bool()) c.add_bos = v->as_bool();
  if (const json::value* v = o.if_contains("add_eos_token"); v && v->is_bool()) c.add_eos = v->as_bool();
  if (const json::value* t = o.if_contains("chat_template")) {
    if (const json::string* s = t->if_string()) {
      c.chat_template = std::string(s->data(), s->size());
    } else if (const json::array* list = t->if_array()) {
      for (const auto& e : *list) {
        const json::object* eo = e.if_object();
        if (!eo) continue;
        const json::string* name = as_str(eo->if_contains("name"));
        const json::string* tmpl = as_str(eo->if_contains("template"));
        if (tmpl && (!c.chat_template || (name && *name == "default"))) {
          c.chat_template = std::string(tmpl->data(), tmpl->size());
        }
      }
    }
  }
  return c;
}

Status import_impl(const std::string& path, GgufWriter& out) {
  SCN_ASSIGN_OR_RETURN(std::string text, read_file(path));
  json::monotonic_resource mr;
  boost::system::error_code ec;
  json::value root = json::parse(text, ec, &mr);
  if (ec) return Status::corrupt("'" + path + "' is not valid JSON: " + ec.message());
  text.clear();
  const json::object* top = root.if_object();
  const json::object* model = top ? (top->if_contains("model") ? top->at("model").if_object() : nullptr) : nullptr;
  if (!model) return Status::corrupt("'" + path + "' has no \"model\" object");
  const json::string* mtype = as_str(model->if_contains("type"));
  if (!mtype || *mtype != "BPE") {
    return Status::unprocessable("tokenizer model type '" + std::string(mtype ? mtype->c_str() : "?") +
                                 "' is not supported (byte-level BPE is)");
  }
  if (const json::value* bf = model->if_contains("byte_fallback"); bf && bf->is_bool() && bf->as_bool()) {
    return Status::unprocessable("BPE with byte_fallback (SentencePiece-style) is not supported by the importer");
  }

  std::vector<std::string> splits;
  bool byte_level = false, byte_level_regex = false;
  if (const json::value* pre = top->if_contains("pre_tokenizer")) collect_pre(*pre, splits, byte_level, byte_level_regex);
  if (const json::value* dec = top->if_contains("decoder")) {
    std::vector<std::string> ignored;
    bool dec_byte_level = false, unused = false;
    collect_pre(*dec, ignored, dec_byte_level, unused);
    byte_level = byte_level || dec_byte_level;
  }
  if (!byte_level) return Status::unprocessable("not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer or decoder)");
  SCN_ASSIGN_OR_RETURN(const PreTokenizerType pre, detect_pre(splits, byte_level_regex));

  // Tokens by id.
  const json::object* vocab = model->if_contains("vocab") ? model->at("vocab").if_object() : nullptr;
  if (!vocab) return Status::corrupt("model.vocab is not an object");
  std::map<int64_t, std::pair<std::string, TokenType>> by_id;
  for (const auto& kv : *vocab) {
    const auto id = as_int(&kv.value());
    if (!id || *id < 0 || *id > INT32_MAX) return Status::corrupt("model.vocab['" + std::string(kv.key()) + "'] is not a valid id");
    if (!by_id.emplace(*id, std::make_pair(std::string(kv.key()), TokenType::kNormal)).second) {
      return Status::corrupt("model.vocab has id " + std::to_string(*id) + " twice");
    }
  }
  if (const json::value* added = top->if_contains("added_tokens"); added && added->is_array()) {
    for (const auto& a : added->as_array()) {
      const json::object* ao = a.if_object();
      const auto id = ao ? as_int(ao->if_contains("id")) : std::nullopt;
      const json::string* content = ao ? as_str(ao->if_contains("content")) : nullptr;
      if (!id || *id < 0 || *id > INT32_MAX || !content) return Status::corrupt("added_tokens has an entry without id/content");
      const json::value* sp = ao->if_contains("special");
      const bool special = sp && sp->is_bool() && sp->as_bool();
      std::string t(content->data(), content->size());
      const TokenType type = special || looks_special(t) ? TokenType::kControl : TokenType::kUserDefined;
      auto& slot = by_id[*id];
      if (!slot.first.empty() && slot.first != t) {
        return Status::corrupt("added token '" + t + "' has id " + std::to_string(*id) + " of '" + slot.first + "'");
      }
      slot = {std::move(t), type};
    }
  }
  if (by_id.empty()) return Status::corrupt("the tokenizer has no tokens");
  const int64_t n = by_id.rbegin()->first + 1;
  if (n > static_cast<int64_t>(by_id.size()) + (1 << 20)) return Status::corrupt("token ids leave a gap of over 2^20 unused ids");
  std::vector<std::string> tokens(n);
  std::vector<int64_t> types(n, static_cast<int64_t>(TokenType::kUnused));
  std::map<std::string, int32_t, std::less<>> text_to_id;
  for (auto& [id, entry] : by_id) {
    if (!text_to_id.emplace(entry.first, static_cast<int32_t>(id)).second) {
      return Status::corrupt("token '" + entry.first + "' appears twice (ids " +
                             std::to_string(text_to_id[entry.first]) + " and " + std::to_string(id) + ")");
    }
    tokens[id] = std::move(entry.first);
    types[id] = static_cast<int64_t>(entry.second);
  }
  for (int64_t id = 0; id < n; ++id) {
    if (tokens[id].empty()) tokens[id] = "[PAD" + std::to_string(id) + "]";
  }

  // Merges.
  const json::value* mv = model->if_contains("merges");
  if (!mv || !mv->is_array()) return Status::corrupt("model.merges is not an array");
  std::vector<std::string> merges;
  merges.reserve(mv->as_array().size());
  for (const auto& m : mv->as_array()) {
    if (const json::string* s = m.if_string()) {
      merges.emplace_back(s->data(), s->size());
    } else if (const json::array* pair = m.if_array(); pair && pair->size() == 2 && (*pair)[0].is_string() &&
                                                         (*pair)[1].is_string()) {
      const json::string& a = (*pair)[0].get_string();
      const json::string& b = (*pair)[1].get_string();
      std::string joined;
      joined.reserve(a.size() + b.size() + 1);
      joined.append(a.data(), a.size()).append(" ").append(b.data(), b.size());
      merges.push_back(std::move(joined));
    } else {
      return Status::corrupt("model.merges[" + std::to_string(merges.size()) + "] is neither \"a b\" nor [a, b]");
    }
  }

  SCN_ASSIGN_OR_RETURN(Config config,
                       read_config(std::filesystem::path(path).parent_path() / "tokenizer_config.json"));

  out.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
  out.set("tokenizer.ggml.pre", GgufValue::str(std::string(pre_tokenizer_name(pre))));
  out.set("tokenizer.ggml.tokens", GgufValue::array(GgufArray::of_strings(std::move(tokens))));
  out.set("tokenizer.ggml.token_type", GgufValue::array(GgufArray::of_ints(GgufValueType::INT32, std::move(types))));
  out.set("tokenizer.ggml.merges", GgufValue::array(GgufArray::of_strings(std::move(merges))));
  static const std::map<std::string, std::string> kIdKeys = {
      {"bos", "tokenizer.ggml.bos_token_id"}, {"eos", "tokenizer.ggml.eos_token_id"},
      {"unk", "tokenizer.ggml.unknown_token_id"}, {"pad", "tokenizer.ggml.padding_token_id"}};
  for (const auto& [name, text] : config.special_texts) {
    const auto it = text_to_id.find(text);
    if (it == text_to_id.end()) {
      return Status::corrupt("tokenizer_config.json: " + name + "_token '" + text + "' is not a token");
    }
    out.set(kIdKeys.at(name), GgufValue::u32(static_cast<uint32_t>(it->second)));
  }
  if (config.add_bos) out.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(*config.add_bos));
  if (config.add_eos) out.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(*config.add_eos));
  if (config.chat_template) out.set("tokenizer.chat_template", GgufValue::str(*config.chat_template));
  return Status::ok();
}

}  // namespace

Status import_hf_tokenizer(const std::string& tokenizer_json_path, GgufWriter& out) {
  try {
    return import_impl(tokenizer_json_path, out);
  } catch (const std::exception& e) {  // Boost.JSON / allocation failures
    return Status::corrupt("'" + tokenizer_json_path + "': " + e.what());
  }
}

}  // namespace scn::inference
