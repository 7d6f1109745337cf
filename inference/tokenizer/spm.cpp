// SentencePiece-style bigram merging by score.
#include "inference/tokenizer/spm.h"

#include <algorithm>
#include <queue>

#include "inference/tokenizer/unicode.h"

namespace scn::inference {

void spm_tokenize(const SpmTables& t, std::string_view text, std::vector<int32_t>& out) {
  struct Symbol {
    int32_t prev, next;
    uint32_t off, len;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = std::min(utf8_sequence_length(static_cast<uint8_t>(text[pos])), text.size() - pos);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, pos + len == text.size() ? -1 : index + 1,
                       static_cast<uint32_t>(pos), static_cast<uint32_t>(len)});
    pos += len;
  }
  if (symbols.empty()) return;

  struct Bigram {
    float score;
    int32_t left, right;
    uint32_t size;
  };
  struct Lower {  // higher score first, then the leftmost pair
    bool operator()(const Bigram& a, const Bigram& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };
  std::priority_queue<Bigram, std::vector<Bigram>, Lower> queue;
  const auto add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = symbols[left].len + symbols[right].len;
    const int32_t id = lookup_token(*t.tokens, text.substr(symbols[left].off, size));
    if (id < 0) return;
    queue.push({(*t.scores)[id], left, right, size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) add_bigram(i - 1, i);

  while (!queue.empty()) {
    const Bigram bg = queue.top();
    queue.pop();
    Symbol& left = symbols[bg.left];
    Symbol& right = symbols[bg.right];
    if (left.len == 0 || right.len == 0 || left.len + right.len != bg.size) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bg.left;
    add_bigram(left.prev, bg.left);
    add_bigram(bg.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    const std::string_view piece = text.substr(s.off, s.len);
    const int32_t id = lookup_token(*t.tokens, piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) {
      const int32_t b = t.byte_tokens[static_cast<uint8_t>(c)];
      if (b >= 0) {
        out.push_back(b);
      } else if (t.unk_id >= 0) {
        out.push_back(t.unk_id);
      }
    }
  }
}

}  // namespace scn::inference
