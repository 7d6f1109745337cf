#include "inference/server/text_stream.h"

#include <algorithm>

#include "common/utf8.h"

namespace scn::inference {
void Utf8Decoder::push(std::string_view bytes, std::string& out) {
  pending_ += bytes;
  const size_t keep = common::utf8_incomplete_suffix(pending_);
  out += common::sanitize_utf8(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
}

void Utf8Decoder::finish(std::string& out) {
  if (!pending_.empty()) out += common::sanitize_utf8(pending_);
  pending_.clear();
}

TextStream::TextStream(std::vector<std::string> stop_strings) {
  for (auto& s : stop_strings)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string TextStream::push(std::string_view bytes) {
  if (stopped_ || finished_) return {};
  const size_t before = held_.size();
  decoder_.push(bytes, held_);
  decoded_length_ += held_.size() - before;
  return release(false);
}

std::string TextStream::finish() {
  if (stopped_ || finished_) return {};
  const size_t before = held_.size();
  decoder_.finish(held_);
  decoded_length_ += held_.size() - before;
  std::string out = release(true);
  finished_ = true;
  return out;
}

std::string TextStream::release(bool at_end) {
  // A stop string can only begin inside held_: any text that could have
  // started one was held back when it arrived. Take the earliest match.
  size_t cut = std::string::npos;
  for (const auto& s : stops_) cut = std::min(cut, held_.find(s));
  if (cut != std::string::npos) {
    std::string out = held_.substr(0, cut);
    held_.clear();
    stopped_ = true;
    emitted_length_ += out.size();
    return out;
  }
  size_t keep = 0;  // longest suffix of held_ that is a proper prefix of a stop string
  if (!at_end) {
    for (const auto& s : stops_) {
      const size_t max_len = std::min(s.size() - 1, held_.size());
      for (size_t len = max_len; len > keep; --len) {
        if (std::string_view(held_).substr(held_.size() - len) ==
            std::string_view(s).substr(0, len)) {
          keep = len;
          break;
        }
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  emitted_length_ += out.size();
  return out;
}

}  // namespace scn::inference
