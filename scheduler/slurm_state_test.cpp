#include "scheduler/slurm_state.h"

#include <doctest/doctest.h>

namespace scn::scheduler {
namespace {

TEST_CASE("slurm states: validity") {
  struct Case {
    const char* state;
    bool valid;
  };
  for (const Case& c : {Case{"idle", true}, Case{"mixed+drain", true}, Case{"idle*", true},
                        Case{"drain$", true}, Case{"powered_down+idle~", true},
                        Case{"", false}, Case{"IDLE", false}, Case{"idle drain", false},
                        Case{"idle+", false}, Case{"+idle", false}, Case{"idle,drain", false},
                        Case{"a\"b", false}}) {
    CAPTURE(c.state);
    CHECK(valid_slurm_state(c.state) == c.valid);
  }
  CHECK(!valid_slurm_state(std::string(65, 'a')));
  CHECK(valid_slurm_state(std::string(64, 'a')));
}

TEST_CASE("slurm states: idle/mixed/allocated are usable, drains drain, the rest is down") {
  struct Case {
    const char* state;
    SlurmClass cls;
  };
  for (const Case& c : {
           Case{"idle", SlurmClass::kUsable},
           Case{"mixed", SlurmClass::kUsable},
           Case{"allocated", SlurmClass::kUsable},
           Case{"alloc", SlurmClass::kUsable},
           Case{"mix", SlurmClass::kUsable},
           Case{"idle+cloud", SlurmClass::kUsable},
           Case{"allocated+completing", SlurmClass::kUsable},
           Case{"completing", SlurmClass::kUsable},
           Case{"planned", SlurmClass::kUsable},
           Case{"idle#", SlurmClass::kDown},
           Case{"idle%", SlurmClass::kDown},
           Case{"idle@", SlurmClass::kUsable},
           Case{"idle$", SlurmClass::kDrain},
           Case{"drain", SlurmClass::kDrain},
           Case{"draining", SlurmClass::kDrain},
           Case{"drained", SlurmClass::kDrain},
           Case{"drng", SlurmClass::kDrain},
           Case{"mixed+drain", SlurmClass::kDrain},
           Case{"idle+drain", SlurmClass::kDrain},
           Case{"allocated+failing", SlurmClass::kDrain},
           Case{"idle+maint", SlurmClass::kDrain},
           Case{"drain$", SlurmClass::kDrain},
           Case{"down", SlurmClass::kDown},
           Case{"down*", SlurmClass::kDown},
           Case{"fail", SlurmClass::kDown},
           Case{"idle*", SlurmClass::kDown},
           Case{"mixed*", SlurmClass::kDown},
           Case{"idle~", SlurmClass::kDown},
           Case{"idle+not_responding", SlurmClass::kDown},
           Case{"unknown", SlurmClass::kDown},
           Case{"future", SlurmClass::kDown},
           Case{"idle+power_down", SlurmClass::kDown},
           Case{"idle+powered_down", SlurmClass::kDown},
           Case{"down+drain", SlurmClass::kDown},
           Case{"idle+drain+not_responding", SlurmClass::kDown},
           Case{"frobnicated", SlurmClass::kDown},
       }) {
    CAPTURE(c.state);
    CHECK(slurm_class_name(classify_slurm_state(c.state)) == slurm_class_name(c.cls));
  }
}

TEST_CASE("slurm states: the node status they lead to") {
  using R = std::optional<std::string>;
  using C = std::optional<NodeStatusChange>;
  struct Case {
    const char* what;
    const char* status;
    R reason;
    const char* state;
    const char* slurm_reason;
    C want;
  };
  const R none;
  for (const Case& c : {
           Case{"idle keeps a ready node", "ready", none, "idle", "", C()},
           Case{"idle brings a slurm-downed node back", "lost", R("slurm: down: not responding"),
                "idle", "", C(NodeStatusChange{"ready", none})},
           Case{"idle brings a node lost for silence back", "lost", R("no heartbeat since x"),
                "mixed", "", C(NodeStatusChange{"ready", none})},
           Case{"idle undrains what slurm drained", "draining", R("slurm: drain: maintenance"),
                "idle", "", C(NodeStatusChange{"ready", none})},
           Case{"idle keeps an operator's drain", "draining", R("drained by alice"), "idle", "", C()},
           Case{"drain drains a ready node", "ready", none, "mixed+drain", "disk bad",
                C(NodeStatusChange{"draining", R("slurm: drain: disk bad")})},
           Case{"drain without a reason names the state", "ready", none, "drained", "",
                C(NodeStatusChange{"draining", R("slurm: drain: drained")})},
           Case{"the same drain changes nothing", "draining", R("slurm: drain: disk bad"), "drain",
                "disk bad", C()},
           Case{"a new drain reason is taken", "draining", R("slurm: drain: disk bad"), "drain",
                "disk replaced", C(NodeStatusChange{"draining", R("slurm: drain: disk replaced")})},
           Case{"an operator's drain stays under a slurm drain", "draining", R("drained by alice"),
                "drain", "x", C()},
           Case{"a lost node comes back drained", "lost", R("slurm: down: x"), "drain", "y",
                C(NodeStatusChange{"draining", R("slurm: drain: y")})},
           Case{"down loses a ready node", "ready", none, "down", "Not responding",
                C(NodeStatusChange{"lost", R("slurm: down: Not responding")})},
           Case{"down loses a draining node", "draining", R("drained by alice"), "idle*", "",
                C(NodeStatusChange{"lost", R("slurm: down: idle*")})},
           Case{"the same down changes nothing", "lost", R("slurm: down: x"), "down", "x", C()},
           Case{"down names itself on a node lost for silence", "lost", R("no heartbeat since x"),
                "down", "x", C(NodeStatusChange{"lost", R("slurm: down: x")})},
           Case{"a removed node never changes", "removed", R("removed by bob"), "idle", "", C()},
       }) {
    CAPTURE(c.what);
    auto got = slurm_node_status(c.status, c.reason, classify_slurm_state(c.state), c.state,
                                 c.slurm_reason);
    REQUIRE(got.has_value() == c.want.has_value());
    if (got) {
      CHECK(got->status == c.want->status);
      CHECK(got->reason == c.want->reason);
    }
  }
  CHECK(is_slurm_reason(std::string("slurm: drain: x")));
  CHECK(!is_slurm_reason(std::string("drained by slurm")));
  CHECK(!is_slurm_reason(std::nullopt));
}

}  // namespace
}  // namespace scn::scheduler
