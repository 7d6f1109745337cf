// Vocab: tokenizing, detokenizing and token attributes.
#include "inference/tokenizer/vocab.h"

#include "inference/tokenizer/bpe.h"
#include "inference/tokenizer/spm.h"
#include "inference/tokenizer/unicode.h"

namespace scn::inference {

namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

Vocab::~Vocab() = default;

size_t Vocab::n_merges() const { return bpe_ ? bpe_->n_merges() : 0; }

bool Vocab::is_eog(int32_t id) const { return id >= 0 && id < n_tokens() && eog_[id]; }

bool Vocab::is_control(int32_t id) const {
  return id >= 0 && id < n_tokens() && (tokens_[id].attr & kAttrControl);
}

bool Vocab::is_byte(int32_t id) const {
  return id >= 0 && id < n_tokens() && (tokens_[id].attr & kAttrByte);
}

bool Vocab::is_user_defined(int32_t id) const {
  return id >= 0 && id < n_tokens() && (tokens_[id].attr & kAttrUserDefined);
}

TokenType Vocab::token_type(int32_t id) const {
  return id >= 0 && id < n_tokens() ? tokens_[id].type : TokenType::kUndefined;
}

float Vocab::score(int32_t id) const { return id >= 0 && id < n_tokens() ? tokens_[id].score : 0.0f; }

const std::string& Vocab::token_text(int32_t id) const {
  static const std::string kEmpty;
  return id >= 0 && id < n_tokens() ? tokens_[id].text : kEmpty;
}

std::optional<int32_t> Vocab::find_token(std::string_view text) const {
  const int32_t id = lookup_token(token_to_id_, text);
  if (id < 0) return std::nullopt;
  return id;
}

std::vector<int32_t> Vocab::eog_ids() const {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < n_tokens(); ++id) {
    if (eog_[id]) ids.push_back(id);
  }
  return ids;
}

std::string Vocab::make_piece(int32_t id) const {
  const Token& t = tokens_[id];
  if (t.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t.text;
  if (t.attr & kAttrNormal) {
    if (type_ == VocabType::kSpm) {
      std::string out;
      out.reserve(t.text.size());
      for (size_t pos = 0; pos < t.text.size();) {
        if (t.text.compare(pos, kSpmSpace.size(), kSpmSpace) == 0) {
          out += ' ';
          pos += kSpmSpace.size();
        } else {
          out += t.text[pos++];
        }
      }
      return out;
    }
    // Byte-level: every code point stands for one byte. A code point outside
    // the mapping (only in malformed vocabularies) is kept as its UTF-8.
    std::string out;
    for (size_t pos = 0; pos < t.text.size();) {
      const uint32_t cpt = decode_utf8(t.text, &pos);
      if (const auto b = byte_level_byte(cpt)) {
        out += static_cast<char>(*b);
      } else {
        append_utf8(out, cpt);
      }
    }
    return out;
  }
  if (t.attr & kAttrByte) {  // "<0xAB>", checked when loading
    return std::string(1, static_cast<char>(std::stoi(t.text.substr(3, 2), nullptr, 16)));
  }
  return std::string();  // unused / undefined tokens print nothing
}

std::string Vocab::token_to_piece(int32_t id, bool render_special) const {
  if (id < 0 || id >= n_tokens()) return std::string();
  if (!render_special && (tokens_[id].attr & (kAttrUnknown | kAttrControl))) return std::string();
  return pieces_[id];
}

std::string Vocab::detokenize(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  bool strip_space = type_ == VocabType::kSpm && add_space_prefix_;
  for (int32_t id : ids) {
    if (id < 0 || id >= n_tokens()) continue;
    if (!render_special && (tokens_[id].attr & (kAttrUnknown | kAttrControl))) continue;
    const std::string& piece = pieces_[id];
    if (piece.empty()) continue;
    if (strip_space && piece[0] == ' ') {
      out.append(piece, 1, std::string::npos);
    } else {
      out += piece;
    }
    strip_space = false;
  }
  return out;
}

std::vector<Vocab::Fragment> Vocab::partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  // The bytes and byte pairs the text holds: most special tokens (some
  // vocabularies have thousands) are ruled out without searching the text.
  std::vector<uint64_t> pairs(65536 / 64, 0);
  std::array<uint64_t, 4> bytes{};
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t b = static_cast<uint8_t>(text[i]);
    bytes[b >> 6] |= uint64_t{1} << (b & 63);
    if (i + 1 < text.size()) {
      const uint32_t p = (uint32_t{b} << 8) | static_cast<uint8_t>(text[i + 1]);
      pairs[p >> 6] |= uint64_t{1} << (p & 63);
    }
  }
  const auto may_contain = [&](std::string_view needle) {
    const uint8_t b = static_cast<uint8_t>(needle[0]);
    if (!(bytes[b >> 6] >> (b & 63) & 1)) return false;
    if (needle.size() < 2) return true;
    const uint32_t p = (uint32_t{b} << 8) | static_cast<uint8_t>(needle[1]);
    return (pairs[p >> 6] >> (p & 63) & 1) != 0;
  };
  std::vector<Fragment> next;
  for (const int32_t special : special_cache_) {
    const Token& tok = tokens_[special];
    // Control and unknown tokens only when asked; user-defined ones always.
    if (!parse_special && (tok.attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = tok.text;
    if (!may_contain(needle) || text.find(needle) == std::string_view::npos) continue;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t off = f.off, len = f.len;
      while (len > 0) {
        const size_t match = text.substr(0, off + len).find(needle, off);
        if (match == std::string_view::npos) {
          next.push_back({-1, off, len});
          break;
        }
        size_t left_len = match - off;
        if (tok.attr & kAttrLstrip) {
          while (left_len > 0 && is_ascii_space(text[off + left_len - 1])) --left_len;
        }
        if (left_len > 0) next.push_back({-1, off, left_len});
        next.push_back({special, 0, 0});
        size_t right_off = match + needle.size();
        size_t right_len = off + len - right_off;
        if (tok.attr & kAttrRstrip) {
          while (right_len > 0 && is_ascii_space(text[right_off])) {
            ++right_off;
            --right_len;
          }
        }
        off = right_off;
        len = right_len;
      }
    }
    frags.swap(next);
  }
  return frags;
}

void Vocab::tokenize_raw(std::string_view text, bool space_prefix, std::vector<int32_t>& out) const {
  if (type_ == VocabType::kSpm) {
    std::string escaped;
    escaped.reserve(text.size() + 8);
    if (space_prefix) escaped += kSpmSpace;
    for (char c : text) {
      if (c == ' ') {
        escaped += kSpmSpace;
      } else {
        escaped += c;
      }
    }
    SpmTables tables;
    tables.tokens = &token_to_id_;
    tables.scores = &scores_;
    tables.byte_tokens = byte_tokens_;
    tables.unk_id = unk_;
    spm_tokenize(tables, escaped, out);
    return;
  }
  const std::string clean = sanitize_utf8(text);
  for (std::string_view word : pre_->split(clean)) {
    bpe_->encode_word(byte_level_encode(word), ignore_merges_, out);
  }
}

std::vector<int32_t> Vocab::tokenize(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && add_bos_) out.push_back(bos_);
  bool prev_special = true;  // the text start counts as a special token
  for (const Fragment& f : partition(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    tokenize_raw(text.substr(f.off, f.len), add_space_prefix_ && prev_special, out);
    prev_special = false;
  }
  if (add_special && add_eos_) out.push_back(eos_);
  return out;
}

}  // namespace scn::inference
