#include "scheduler/plugins/registry.h"

#include <cmath>

#include <doctest/doctest.h>

namespace scn::scheduler {
namespace {

TEST_CASE("registry: every listed name builds the plugin of that name") {
  for (std::string_view name : filter_names()) {
    auto f = make_filter(name);
    REQUIRE(f.is_ok());
    CHECK((*f)->name() == name);
  }
  for (std::string_view name : score_names()) {
    auto s = make_score(name);
    REQUIRE(s.is_ok());
    CHECK((*s)->name() == name);
  }
}

TEST_CASE("registry: unknown names and bad weights are errors") {
  struct Case {
    std::vector<std::string> filters;
    std::vector<std::pair<std::string, double>> scores;
    const char* expect;  // substring of the error; "" = valid
  };
  const Case cases[] = {
      {{"node_alive", "fits"}, {{"price", 1}}, ""},
      {{}, {}, ""},
      {{"gravity"}, {}, "unknown filter plugin 'gravity' (known: node_alive, not_draining, device_kind"},
      {{}, {{"luck", 1}}, "unknown score plugin 'luck' (known: spread, bin_packing"},
      {{"fits", "fits"}, {}, "filter plugin 'fits' listed twice"},
      {{}, {{"price", 1}, {"price", 2}}, "score plugin 'price' listed twice"},
      {{}, {{"price", 0}}, "score plugin 'price' needs a finite weight > 0"},
      {{}, {{"price", -1}}, "needs a finite weight > 0"},
      {{}, {{"price", std::nan("")}}, "needs a finite weight > 0"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.expect);
    auto p = make_profile(c.filters, c.scores);
    if (std::string_view(c.expect).empty()) {
      CHECK(p.is_ok());
    } else {
      REQUIRE_FALSE(p.is_ok());
      CHECK(p.status().code() == Code::kInvalidArgument);
      CHECK(p.status().message().find(c.expect) != std::string::npos);
    }
  }
}

TEST_CASE("registry: the default profile") {
  const Profile p = default_profile();
  std::vector<std::string_view> filters, scores;
  for (const auto& f : p.filters) filters.push_back(f->name());
  for (const auto& s : p.scores) scores.push_back(s.plugin->name());
  CHECK(filters == std::vector<std::string_view>{"node_alive", "not_draining", "device_kind", "allowed_regions",
                                                "taints", "fits", "price_cap"});
  CHECK(scores == std::vector<std::string_view>{"spread", "bin_packing", "model_present", "price", "latency"});
  CHECK(p.scores[0].weight == 8);
  CHECK(p.max_feasible_nodes == 0);
}

}  // namespace
}  // namespace scn::scheduler
