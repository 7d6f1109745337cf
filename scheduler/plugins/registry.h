// The plugins by name, and the default placement profile.
//
// Contract:
//  - make_filter()/make_score() build a plugin from its name (the names the
//    plugins report, as shown in "why here"/"why pending"); an unknown name is
//    InvalidArgument listing the known ones.
//  - default_profile(): filters node_alive, not_draining, device_kind,
//    allowed_regions, taints, fits, price_cap (in that order; price_cap after
//    fits because the price depends on the device fits picks); scores
//    spread x8, bin_packing x2, model_present x2, price x1, latency x2
//    (spreading one service's replicas over nodes outweighs packing; packing
//    outweighs price; latency is neutral for a request without
//    tenant_region); every feasible node scored. `load` is registered but
//    not in the default profile (it works against bin-packing).
//  - make_profile(): the same from configuration: filter names in order and
//    (score name, weight) pairs; errors as Framework::create().
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "scheduler/framework.h"

namespace scn::scheduler {

Result<std::shared_ptr<const FilterPlugin>> make_filter(std::string_view name);
Result<std::shared_ptr<const ScorePlugin>> make_score(std::string_view name);
std::vector<std::string_view> filter_names();
std::vector<std::string_view> score_names();

Profile default_profile();
Result<Profile> make_profile(const std::vector<std::string>& filters,
                             const std::vector<std::pair<std::string, double>>& scores,
                             uint32_t max_feasible_nodes = 0);

}  // namespace scn::scheduler
