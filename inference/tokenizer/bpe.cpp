// Byte-level BPE merging with a rank-ordered work queue.
#include "inference/tokenizer/bpe.h"

#include <queue>

#include "inference/tokenizer/unicode.h"

namespace scn::inference {

Result<std::unique_ptr<BpeModel>> BpeModel::build(const TokenMap& tokens, int32_t n_tokens,
                                                  const std::vector<std::string>& merges,
                                                  int32_t unk_id) {
  std::unique_ptr<BpeModel> m(new BpeModel(tokens, n_tokens, unk_id));
  m->merges_.reserve(merges.size());
  std::string joined;
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& merge = merges[i];
    const size_t sp = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    if (sp == std::string::npos) {
      return Status::corrupt("tokenizer.ggml.merges[" + std::to_string(i) + "] ('" + merge +
                             "') is not two symbols separated by a space");
    }
    const std::string_view left(merge.data(), sp);
    const std::string_view right(merge.data() + sp + 1, merge.size() - sp - 1);
    const int32_t a = m->intern(left);
    const int32_t b = m->intern(right);
    joined.assign(left).append(right);
    const int32_t r = m->intern(joined);
    // The first occurrence of a pair keeps its rank (llama.cpp's emplace).
    m->merges_.try_emplace(key(a, b), Merge{static_cast<int32_t>(i), r});
  }
  return m;
}

int32_t BpeModel::symbol_id(std::string_view text) const {
  const int32_t id = lookup_token(tokens_, text);
  if (id >= 0) return id;
  return lookup_token(extra_symbols_, text);
}

int32_t BpeModel::intern(std::string_view text) {
  const int32_t id = symbol_id(text);
  if (id >= 0) return id;
  const int32_t fresh = n_tokens_ + static_cast<int32_t>(extra_symbols_.size());
  extra_symbols_.emplace(std::string(text), fresh);
  return fresh;
}

int32_t BpeModel::rank(std::string_view left, std::string_view right) const {
  const int32_t a = symbol_id(left), b = symbol_id(right);
  if (a < 0 || b < 0) return -1;
  const auto it = merges_.find(key(a, b));
  return it == merges_.end() ? -1 : it->second.rank;
}

void BpeModel::emit(std::string_view text, int32_t id, std::vector<int32_t>& out) const {
  if (id >= 0 && id < n_tokens_) {
    out.push_back(id);
    return;
  }
  // Not a token: character by character.
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = std::min(utf8_sequence_length(static_cast<uint8_t>(text[pos])), text.size() - pos);
    const int32_t t = lookup_token(tokens_, text.substr(pos, len));
    if (t >= 0) {
      out.push_back(t);
    } else if (unk_id_ >= 0) {
      out.push_back(unk_id_);
    }
    pos += len;
  }
}

void BpeModel::encode_word(std::string_view word, bool ignore_merges,
                           std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges) {
    const int32_t whole = lookup_token(tokens_, word);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }

  struct Symbol {
    int32_t id;  // symbol id, -1 when the text is no known symbol
    int32_t prev, next;
    uint32_t off, len;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = std::min(utf8_sequence_length(static_cast<uint8_t>(word[pos])), word.size() - pos);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({symbol_id(word.substr(pos, len)), index - 1,
                       pos + len == word.size() ? -1 : index + 1, static_cast<uint32_t>(pos),
                       static_cast<uint32_t>(len)});
    pos += len;
  }

  struct Bigram {
    int32_t rank, left, right, left_id, right_id, result;
  };
  struct Later {  // lower rank first, then the leftmost pair
    bool operator()(const Bigram& a, const Bigram& b) const {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
  };
  std::priority_queue<Bigram, std::vector<Bigram>, Later> queue;
  const auto add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t a = symbols[left].id, b = symbols[right].id;
    if (a < 0 || b < 0) return;
    const auto it = merges_.find(key(a, b));
    if (it == merges_.end()) return;
    queue.push({it->second.rank, left, right, a, b, it->second.result});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) add_bigram(i - 1, i);

  while (!queue.empty()) {
    const Bigram bg = queue.top();
    queue.pop();
    Symbol& left = symbols[bg.left];
    Symbol& right = symbols[bg.right];
    // Outdated: one side was merged away or has grown since.
    if (left.len == 0 || right.len == 0 || left.id != bg.left_id || right.id != bg.right_id) continue;
    left.len += right.len;
    left.id = bg.result;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bg.left;
    add_bigram(left.prev, bg.left);
    add_bigram(bg.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.len == 0) continue;
    emit(word.substr(s.off, s.len), s.id, out);
  }
}

}  // namespace scn::inference
