// The Slurm agent's pure parts: durations, agent.json, the protocol fields.
#include "node-agent/slurm/slurm_agent.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include "tests/testing.h"

namespace scn::node_agent::slurm {
namespace {

namespace json = boost::json;

TEST_CASE("parse_slurm_duration takes sbatch --time forms") {
  struct Case {
    const char* text;
    long seconds;  // 0: invalid
  };
  for (const Case& c : {Case{"4:00:00", 14400}, Case{"90", 5400}, Case{"2", 120}, Case{"1:20", 80},
                        Case{"1-00:00:00", 86400}, Case{"1-2", 93600}, Case{"0:30", 30}, Case{"", 0},
                        Case{"abc", 0}, Case{"1:2:3:4", 0}, Case{"0", 0}, Case{"-5", 0}, Case{"5m", 0}}) {
    CAPTURE(c.text);
    auto d = parse_slurm_duration(c.text);
    if (c.seconds == 0) {
      CHECK_FALSE(d.is_ok());
    } else {
      REQUIRE(d.is_ok());
      CHECK(d->count() == c.seconds);
    }
  }
}

TEST_CASE("agent.json of a Slurm agent: one credential per Slurm node, mode 0600") {
  testing::TempDir dir;
  const std::string path = dir.file("agent.json");
  CHECK(load_slurm_credentials(path).status().code() == Code::kNotFound);
  std::map<std::string, Credentials> creds{{"cn01", {"id-1", "secret-1", "c"}}, {"cn02", {"id-2", "secret-2", "c"}}};
  REQUIRE(save_slurm_credentials(path, creds).is_ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto loaded = load_slurm_credentials(path);
  REQUIRE(loaded.is_ok());
  REQUIRE(loaded->size() == 2);
  CHECK(loaded->at("cn02").node_id == "id-2");
  CHECK(loaded->at("cn01").node_secret == "secret-1");
  // A plain agent's file is not mistaken for one.
  REQUIRE(save_credentials(path, {"id", "secret", "c"}).is_ok());
  CHECK(load_slurm_credentials(path).status().code() == Code::kCorruptData);
}

TEST_CASE("register and heartbeat bodies carry the Slurm fields only for Slurm nodes") {
  Capacity cap;
  cap.cpu_cores = 16;
  cap.ram_bytes = 1 << 30;
  SlurmRegistration mark{"cn01", "gpu", "idle"};
  auto reg = json::parse(register_body("tok", {"hpc-cn01", "10.0.0.1", {}}, cap, &mark)).as_object();
  CHECK(reg.at("managed_by").as_string() == "slurm");
  CHECK(reg.at("slurm").as_object().at("node").as_string() == "cn01");
  CHECK(reg.at("slurm").as_object().at("partition").as_string() == "gpu");
  CHECK(reg.at("slurm").as_object().at("state").as_string() == "idle");
  auto plain = json::parse(register_body("tok", {"n", "10.0.0.1", {}}, cap)).as_object();
  CHECK_FALSE(plain.contains("managed_by"));
  CHECK_FALSE(plain.contains("slurm"));

  SlurmBeat beat{"mixed", "", false};
  auto hb = json::parse(heartbeat_body("id", 4, 1024, {}, {}, &beat)).as_object();
  CHECK(hb.at("slurm").as_object().at("state").as_string() == "mixed");
  CHECK(hb.at("slurm").as_object().at("reason").as_string() == "");
  CHECK(hb.at("slurm").as_object().at("controller").as_string() == "unreachable");
  CHECK_FALSE(json::parse(heartbeat_body("id", 4, 1024, {}, {})).as_object().contains("slurm"));
}

TEST_CASE("GPU memory per GRES type: flag values, known models, and bad input") {
  auto ok = parse_gpu_memory_gib("A100=80,mi300x=192");
  REQUIRE(ok.is_ok());
  CHECK(ok.value().at("a100") == 80);
  CHECK(ok.value().at("mi300x") == 192);
  CHECK(parse_gpu_memory_gib("").value().empty());
  for (const char* bad : {"a100", "=80", "a100=", "a100=0", "a100=x", "a100=80G", "a100=99999999"}) {
    CAPTURE(bad);
    CHECK(parse_gpu_memory_gib(bad).status().code() == Code::kInvalidArgument);
  }
  CHECK(known_gpu_memory_gib("H200") == 141);
  CHECK(known_gpu_memory_gib("h100") == 80);
  CHECK_FALSE(known_gpu_memory_gib("a100").has_value());
  CHECK_FALSE(known_gpu_memory_gib("").has_value());
}

TEST_CASE("slurm_node_eligible: the operator's capacity modes") {
  auto view = [](std::string state, int alloc, int ours, std::vector<std::string> parts = {"scn"}) {
    SlurmNodeView v;
    v.listed = true;
    v.node.name = "n1";
    v.node.state = std::move(state);
    v.node.cpus = 16;
    v.node.alloc_cpus = alloc;
    v.our_cpus = ours;
    v.node.partitions = std::move(parts);
    return v;
  };
  SlurmSupervisorOptions plain, part, resv, idle;
  part.partition = "scn";
  resv.reservation = "platform";
  idle.idle_only = true;
  struct Row {
    const char* what;
    SlurmNodeView v;
    const SlurmSupervisorOptions* o;
    std::vector<std::string> reserved;
    bool eligible;
  };
  SlurmNodeView unlisted = view("idle", 0, 0);
  unlisted.listed = false;
  const Row rows[] = {
      {"plain: any listed node", view("mixed", 8, 0), &plain, {}, true},
      {"plain: not in sinfo", unlisted, &plain, {}, false},
      {"partition: node in it", view("idle", 0, 0, {"batch", "scn"}), &part, {}, true},
      {"partition: node not in it", view("idle", 0, 0, {"batch"}), &part, {}, false},
      {"reservation: node reserved", view("idle", 0, 0), &resv, {"n0", "n1"}, true},
      {"reservation: node not reserved", view("idle", 0, 0), &resv, {"n2"}, false},
      {"idle-only: idle", view("idle", 0, 0), &idle, {}, true},
      {"idle-only: only our jobs", view("mixed", 4, 4), &idle, {}, true},
      {"idle-only: another user's batch job", view("mixed", 6, 4), &idle, {}, false},
      {"idle-only: allocated to others", view("allocated", 16, 0), &idle, {}, false},
      {"idle-only: drained", view("drain", 0, 0), &idle, {}, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    CHECK(slurm_node_eligible(r.v, *r.o, r.reserved) == r.eligible);
  }
}

}  // namespace
}  // namespace scn::node_agent::slurm
