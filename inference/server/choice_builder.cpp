#include "inference/server/choice_builder.h"

#include <utility>

#include "common/utf8.h"

namespace scn::inference {

ChoiceBuilder::ChoiceBuilder(std::vector<std::string> stop, PieceFn piece, bool want_logprobs)
    : stream_(std::move(stop)), piece_(std::move(piece)), want_logprobs_(want_logprobs) {}

ChoiceDelta ChoiceBuilder::on_token(const TokenEvent& ev) {
  ChoiceDelta d;
  if (stream_.stopped()) return d;
  const std::string bytes = piece_(ev.token);
  if (want_logprobs_) {
    LogprobEntry e;
    e.chosen = {common::sanitize_utf8(bytes), bytes, ev.logprob};
    e.top.reserve(ev.top.size());
    for (const auto& t : ev.top) {
      std::string tb = piece_(t.token);
      e.top.push_back({common::sanitize_utf8(tb), std::move(tb), t.logprob});
    }
    e.text_offset = stream_.decoded_length();
    pending_.push_back(std::move(e));
  }
  take(d, stream_.push(bytes), false);
  return d;
}

ChoiceDelta ChoiceBuilder::finish() {
  ChoiceDelta d;
  take(d, stream_.finish(), true);
  return d;
}

void ChoiceBuilder::take(ChoiceDelta& d, std::string text, bool at_end) {
  text_ += text;
  d.text = std::move(text);
  if (pending_.empty()) return;
  const size_t out = stream_.emitted_length();
  size_t n = 0;
  if (at_end && !stream_.stopped()) {
    n = pending_.size();
  } else {
    while (n < pending_.size() && pending_[n].text_offset < out) ++n;
  }
  for (size_t i = 0; i < n; ++i) {
    released_.push_back(pending_[i]);
    d.logprobs.push_back(std::move(pending_[i]));
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  if (at_end) pending_.clear();
}

}  // namespace scn::inference
