// Fuzz target: what the broker's OpenAI gateway reads of a request body
// before forwarding it (broker/gateway/gateway.cpp): the JSON object
// (common::parse_json_object, as the gateway calls it), its "model" and
// "stream", and the prompt prefix and its hash that route it
// (broker/gateway/balancer.h: prompt_prefix, prefix_hash). The prefix is at
// most max_bytes long and the hash is a pure function of it.
#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "broker/gateway/balancer.h"
#include "common/json.h"
#include "tests/fuzz/fuzz_targets.h"

namespace scn::fuzz {

int gateway_request_one_input(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = common::parse_json_object(body);
  if (!parsed.is_ok()) return 0;
  const common::JsonObject& obj = *parsed;
  (void)common::get_string(obj, "model", "");
  (void)common::get_bool(obj, "stream", false);
  for (size_t max : {size_t{0}, size_t{1}, size_t{7}, size_t{256}}) {
    const std::string prefix = broker::prompt_prefix(obj, max);
    if (prefix.size() > max) fuzz_fail("gateway_request", "prefix longer than max_bytes");
    if (broker::prefix_hash("svc", prefix) != broker::prefix_hash("svc", prefix))
      fuzz_fail("gateway_request", "prefix_hash not deterministic");
  }
  // The stream_options rewrite serializes the object again: it must parse back.
  const std::string again = boost::json::serialize(obj);
  if (!common::parse_json_object(again).is_ok()) fuzz_fail("gateway_request", "serialize does not parse back");
  return 0;
}

}  // namespace scn::fuzz

SCN_FUZZ_ENTRY(gateway_request)
