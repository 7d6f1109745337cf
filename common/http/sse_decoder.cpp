// SseDecoder (client.h): server-sent events split into their data fields.
#include <functional>
#include <string_view>

#include "common/http/client.h"

namespace scn::http {

void SseDecoder::feed(std::string_view bytes,
                      const std::function<void(std::string_view data)>& on_event) {
  pending_.append(bytes);
  std::size_t start = 0;
  for (;;) {
    std::size_t nl = pending_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(pending_.data() + start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {  // end of an event
      if (has_data_) on_event(data_);
      data_.clear();
      has_data_ = false;
      continue;
    }
    if (line.front() == ':') continue;  // comment
    std::string_view field = line.substr(0, line.find(':'));
    std::string_view value = field.size() < line.size() ? line.substr(field.size() + 1) : "";
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
      if (has_data_) data_ += '\n';
      data_.append(value);
      has_data_ = true;
    }
  }
  pending_.erase(0, start);
}

}  // namespace scn::http
