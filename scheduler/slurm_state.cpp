#include "scheduler/slurm_state.h"

#include <initializer_list>
#include <vector>

namespace scn::scheduler {
namespace {

constexpr std::string_view kMarks = "*~#!%$@^-";

bool one_of(std::string_view s, std::initializer_list<std::string_view> list) {
  for (std::string_view x : list)
    if (s == x) return true;
  return false;
}

std::vector<std::string_view> parts(std::string_view state) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t plus = state.find('+', start);
    out.push_back(state.substr(start, plus == std::string_view::npos ? std::string_view::npos
                                                                     : plus - start));
    if (plus == std::string_view::npos) return out;
    start = plus + 1;
  }
}

bool is_down_word(std::string_view w) {
  return one_of(w, {"down", "fail", "not_responding", "no_respond", "npc", "unknown", "unk",
                    "future", "futr", "power_down", "powered_down", "powering_down", "pow_dn",
                    "powering_up", "power_up", "pow_up", "poweroff", "power_off", "invalid_reg",
                    "inval", "reboot_issued", "boot"});
}

bool is_drain_word(std::string_view w) {
  return one_of(w, {"drain", "draining", "drained", "drng", "failing", "maint",
                    "reboot_requested"});
}

bool is_usable_base(std::string_view w) {
  return one_of(w, {"idle", "mixed", "mix", "allocated", "alloc", "completing", "comp", "planned",
                    "plnd", "reserved", "resv"});
}

}  // namespace

bool valid_slurm_state(std::string_view state) {
  if (state.empty() || state.size() > 64) return false;
  for (char c : state) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
                    kMarks.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  for (std::string_view p : parts(state))
    if (p.empty()) return false;
  return true;
}

SlurmClass classify_slurm_state(std::string_view state) {
  bool drain = false;
  bool first = true;
  bool base_known = false;
  for (std::string_view p : parts(state)) {
    // sinfo's suffix marks: '*' not responding, '~' powered off, '#'
    // powering up, '%' powering down are down; '$' (a maintenance
    // reservation) drains; the others ('!', '@', '^', '-') do not matter.
    while (!p.empty() && kMarks.find(p.back()) != std::string_view::npos) {
      const char m = p.back();
      if (m == '*' || m == '~' || m == '#' || m == '%') return SlurmClass::kDown;
      if (m == '$') drain = true;
      p.remove_suffix(1);
    }
    if (is_down_word(p)) return SlurmClass::kDown;
    if (is_drain_word(p)) drain = true;
    if (first) base_known = is_usable_base(p) || is_drain_word(p);
    first = false;
  }
  if (!base_known) return SlurmClass::kDown;
  return drain ? SlurmClass::kDrain : SlurmClass::kUsable;
}

std::string_view slurm_class_name(SlurmClass cls) {
  switch (cls) {
    case SlurmClass::kUsable: return "usable";
    case SlurmClass::kDrain: return "drain";
    case SlurmClass::kDown: return "down";
  }
  return "down";
}

bool is_slurm_reason(const std::optional<std::string>& reason) {
  return reason && reason->rfind("slurm: ", 0) == 0;
}

std::optional<NodeStatusChange> slurm_node_status(std::string_view status,
                                                  const std::optional<std::string>& reason,
                                                  SlurmClass cls, std::string_view state,
                                                  std::string_view slurm_reason) {
  if (status == "removed") return std::nullopt;
  const std::string why(slurm_reason.empty() ? state : slurm_reason);
  auto change = [&](std::string to, std::optional<std::string> r) -> std::optional<NodeStatusChange> {
    if (to == status && r == reason) return std::nullopt;
    return NodeStatusChange{std::move(to), std::move(r)};
  };
  switch (cls) {
    case SlurmClass::kUsable:
      if (status == "lost" || (status == "draining" && is_slurm_reason(reason)))
        return change("ready", std::nullopt);
      return std::nullopt;
    case SlurmClass::kDrain:
      if (status == "draining" && !is_slurm_reason(reason)) return std::nullopt;  // an operator's
      return change("draining", "slurm: drain: " + why);
    case SlurmClass::kDown:
      return change("lost", "slurm: down: " + why);
  }
  return std::nullopt;
}

}  // namespace scn::scheduler
